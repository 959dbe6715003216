package org.sepconv.data;

/**
 * A data set file is missing, malformed or cannot be fetched. The message is one line that
 * names the file (or URL) and what is wrong, and stands alone: the CLI prints it without a
 * stack trace.
 */
public final class DataException extends RuntimeException {
  public DataException(String message) {
    super(message);
  }

  public DataException(String message, Throwable cause) {
    super(message, cause);
  }

  /** "NoSuchFileException: /x/y": the cause, short, for the parentheses of a message. */
  static String reason(Exception e) {
    return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }
}
