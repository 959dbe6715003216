"""PyTorch training baseline for sepconv's GPU numbers: images/s of one SGD training step.

The three cifar models are written out layer by layer to match org.sepconv.models
(MobileNetV1.cifar, MobileNetV2.cifar, ResNet18.cifar: NCHW, convs without bias, BatchNorm with
PyTorch's defaults, ReLU/ReLU6 after BN); their parameter counts with 10 classes are asserted
equal to ours. For each model, batch (128, 256) and precision (fp32: exact; tf32: tensor cores
for convs and matmuls): cudnn.benchmark on, SGD (lr 0.1, momentum 0.9, weight decay 5e-4),
cross-entropy on synthetic data already on the device, warm-up steps, then timed steps between
torch.cuda.synchronize() calls; plus the peak device memory of one step.

    python3 torch_train.py --out torch-train.csv [--models resnet18] [--batches 128]
        [--precisions fp32] [--warmup 10] [--steps 30] [--budget-s 390] [--device cpu]

Without a CUDA device (and without --device cpu) it says so and exits 0.
"""
import argparse
import csv
import os
import sys
import time

PARAMS = {"mobilenetv1": 3_217_226, "mobilenetv2": 2_236_682, "resnet18": 11_173_962}


def build(name, nn, classes=10):
    def conv_bn_act(cin, cout, k, stride=1, groups=1, act=nn.ReLU):
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout), act(inplace=True))

    def make_divisible(v, d=8):
        r = max(d, int(v + d / 2) // d * d)
        return r + d if r < 0.9 * v else r

    class MobileNetV1(nn.Module):
        # stem at stride 1 for 32x32 inputs, then the paper's 13 depthwise-separable blocks
        BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                  (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

        def __init__(self):
            super().__init__()
            layers, cin = [conv_bn_act(3, 32, 3)], 32
            for cout, s in self.BLOCKS:
                layers.append(nn.Sequential(conv_bn_act(cin, cin, 3, s, cin), conv_bn_act(cin, cout, 1)))
                cin = cout
            self.features = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x):
            return self.fc(self.features(x).mean((2, 3)))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, t):
            super().__init__()
            hidden = round(cin * t)
            layers = [conv_bn_act(cin, hidden, 1, act=nn.ReLU6)] if t != 1 else []
            layers += [conv_bn_act(hidden, hidden, 3, stride, hidden, act=nn.ReLU6),
                       nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.residual else self.conv(x)

    class MobileNetV2(nn.Module):
        # torchvision's mobilenet_v2 with the stem and the first 24-channel stage at stride 1
        SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

        def __init__(self):
            super().__init__()
            layers, cin = [conv_bn_act(3, 32, 3, act=nn.ReLU6)], 32
            for t, c, n, s in self.SETTINGS:
                for i in range(n):
                    layers.append(InvertedResidual(cin, make_divisible(c), s if i == 0 else 1, t))
                    cin = make_divisible(c)
            layers.append(conv_bn_act(cin, 1280, 1, act=nn.ReLU6))
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

        def forward(self, x):
            return self.classifier(self.features(x).mean((2, 3)))

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x):
            y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(y + (x if self.downsample is None else self.downsample(x)))

    class ResNet18(nn.Module):
        # torchvision's resnet18 with a 3x3 stride-1 stem and no max-pool
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            blocks, cin = [], 64
            for i, cout in enumerate((64, 128, 256, 512)):
                blocks += [BasicBlock(cin, cout, 1 if i == 0 else 2), BasicBlock(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*blocks)
            self.fc = nn.Linear(512, classes)

        def forward(self, x):
            return self.fc(self.layers(self.relu(self.bn1(self.conv1(x)))).mean((2, 3)))

    return {"mobilenetv1": MobileNetV1, "mobilenetv2": MobileNetV2, "resnet18": ResNet18}[name]()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="CSV file to write")
    ap.add_argument("--models", default="mobilenetv1,mobilenetv2,resnet18")
    ap.add_argument("--batches", default="128,256")
    ap.add_argument("--precisions", default="fp32,tf32")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--budget-s", type=float, default=390, help="start no new configuration after this many seconds")
    ap.add_argument("--device", default="cuda", help="cuda, or cpu to check the script without a GPU")
    args = ap.parse_args()

    import torch
    from torch import nn

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no GPU: torch.cuda.is_available() is False; skipped")
        return 0
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    torch.backends.cudnn.benchmark = True
    gpu = torch.cuda.get_device_name(0) if cuda else "cpu"
    cudnn = torch.backends.cudnn.version() if cuda else None
    print(f"torch {torch.__version__}, cuDNN {cudnn}, device {gpu}")

    def sync():
        if cuda:
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    rows = []
    fields = ["model", "batch", "precision", "images_per_s", "ms_per_step", "peak_mem_mib", "params", "gpu", "torch", "cudnn"]
    for name in args.models.split(","):
        model = build(name, nn)
        params = sum(p.numel() for p in model.parameters())
        assert params == PARAMS[name], f"{name}: {params} parameters, sepconv's has {PARAMS[name]}"
        model = model.to(dev).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss()
        for batch in map(int, args.batches.split(",")):
            x = torch.randn(batch, 3, 32, 32, device=dev)
            y = torch.randint(0, 10, (batch,), device=dev)
            for prec in args.precisions.split(","):
                if time.perf_counter() - t0 > args.budget_s:
                    print(f"time budget of {args.budget_s:.0f} s reached; {name} batch {batch} {prec} not run")
                    continue
                tf32 = prec == "tf32"
                torch.backends.cuda.matmul.allow_tf32 = tf32
                torch.backends.cudnn.allow_tf32 = tf32  # PyTorch's default is True: fp32 must turn it off

                def step():
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    opt.step()

                for _ in range(args.warmup):
                    step()
                sync()
                peak = float("nan")
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                    step()
                    sync()
                    peak = torch.cuda.max_memory_allocated() / 2**20
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                sync()
                dt = (time.perf_counter() - start) / args.steps
                row = dict(model=f"{name}-cifar", batch=batch, precision=prec, images_per_s=round(batch / dt, 1),
                           ms_per_step=round(dt * 1e3, 3), peak_mem_mib=round(peak, 1), params=params, gpu=gpu,
                           torch=torch.__version__, cudnn=cudnn)
                rows.append(row)
                print(",".join(str(row[f]) for f in fields), flush=True)
                tmp = args.out + ".tmp"
                with open(tmp, "w", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=fields)
                    w.writeheader()
                    w.writerows(rows)
                os.replace(tmp, args.out)
        del model, opt
        if cuda:
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
