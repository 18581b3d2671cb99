"""`neurarust train` end to end, each run in a subprocess as a user would start it (small settings:
one or two epochs, big batches)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from neurarust.cli.config import parse_flat_toml
from neurarust.cli.progress import Progress

FAST = ["--model", "mlp", "--batch-size", "256", "--scheduler", "none"]


def train(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "neurarust", "train", *args], capture_output=True, text=True,
                          timeout=timeout)


def metrics(out) -> list[dict]:
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in f]


def test_one_epoch_on_digits_prints_accuracy_and_writes_checkpoint_metrics_and_config(tmp_path):
    out = tmp_path / "run"
    result = train("--epochs", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "cnn on digits (1437 train / 360 val samples), device cpu" in result.stdout
    assert "epoch 1/1  train loss" in result.stdout and "final val accuracy" in result.stdout
    assert sorted(os.listdir(out / "checkpoint")) == ["model.safetensors", "optimizer.safetensors",
                                                     "trainer.safetensors"]
    (record,) = metrics(out)
    assert record["epoch"] == 1 and 0.3 < record["val_acc"] <= 1.0
    assert 'model = "cnn"' in (out / "config.toml").read_text()
    # curves.png: drawn with matplotlib, or its absence said plainly
    assert (out / "curves.png").exists() or "matplotlib is not installed" in result.stdout


def test_the_model_checkpoint_loads_into_the_same_network(tmp_path):
    import neurarust as nr
    from neurarust.cli.models import build_model

    assert train(*FAST, "--epochs", "1", "--out", str(tmp_path)).returncode == 0
    net = build_model("mlp", (1, 8, 8), 10)
    net.load_state_dict(nr.load(str(tmp_path / "checkpoint" / "model.safetensors")))


def test_resume_gives_the_metrics_of_an_uninterrupted_run(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train(*FAST, "--epochs", "2", "--out", str(whole)).returncode == 0
    assert train(*FAST, "--epochs", "1", "--out", str(split)).returncode == 0
    resumed = train("--resume", str(split), "--epochs", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed at epoch 2, step 0" in resumed.stdout
    assert metrics(split) == metrics(whole)


def test_ctrl_c_saves_a_checkpoint_that_resumes_exactly(tmp_path):
    # Ctrl-C in a terminal signals the whole process group: the loader's worker processes too.
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    args = ["--model", "mlp", "--batch-size", "16", "--scheduler", "none"]
    command = [sys.executable, "-m", "neurarust", "train", *args, "--workers", "2", "--epochs", "50",
               "--out", str(stopped)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    for line in proc.stdout:                 # interrupt during the second epoch
        if line.startswith("epoch 1/50"):
            os.killpg(proc.pid, signal.SIGINT)
            break
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "checkpoint saved; continue with: neurarust train --resume" in rest
    resumed = train("--resume", str(stopped), "--epochs", "2")      # without workers: the same batches
    assert resumed.returncode == 0, resumed.stderr
    assert train(*args, "--epochs", "2", "--out", str(whole)).returncode == 0
    assert metrics(stopped)[:2] == metrics(whole)


def test_text_transformer_trains_and_prints_a_sample(tmp_path):
    text = tmp_path / "tiny.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 20)
    result = train("--data", f"text:{text}", "--epochs", "1", "--sample-chars", "12", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "transformer on text:tiny.txt" in result.stdout
    sample = result.stdout.split("sample:\n")[1]
    assert len(sample.rstrip("\n")) == 8 + 12      # the 8-character prompt, then 12 generated


def test_config_file_gives_options_and_the_command_line_wins(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('model = "mlp"\nepochs = 3\nbatch-size = 256\nscheduler = "none"\n')
    result = train("--config", str(config), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "mlp on digits" in result.stdout and "1 epoch, batch 256" in result.stdout


def test_flat_toml_fallback_reads_what_a_config_holds():
    assert parse_flat_toml('# run\n[train]\nmodel = "cnn"\nlr = 1e-3\nepochs = 2  # two\n') == \
        {"train": {"model": "cnn", "lr": 0.001, "epochs": 2}}


@pytest.mark.parametrize("args, message", [
    (["--data", "cifar"], "--data: expected digits, mnist:DIR, fashion-mnist:DIR or text:FILE, got 'cifar'"),
    (["--data", "mnist:/nonexistent/dir"], "--data mnist:/nonexistent/dir: no such directory"),
    (["--device", "tpu"], "--device: expected auto, cpu, cuda or cuda:N, got 'tpu'"),
    (["--model", "transformer"], "--model transformer needs --data text:FILE"),
    (["--epochs", "0"], "epochs must be at least 1, got 0"),
    (["--resume", "/nonexistent/run"], "no checkpoint there"),
], ids=["data-spec", "mnist-dir", "device", "model-data", "epochs", "resume"])
def test_bad_options_exit_2_with_a_message(args, message):
    result = train(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def write_idx(path, array) -> None:
    import gzip
    import struct

    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype("uint8").tobytes())


def test_mnist_trains_from_the_four_idx_files_in_a_folder(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("t10k", 10)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    result = train("--data", f"mnist:{tmp_path}", "--epochs", "1", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "cnn on mnist (40 train / 10 val samples)" in result.stdout


def test_mnist_folder_without_the_idx_files_names_the_expected_files(tmp_path):
    result = train("--data", f"mnist:{tmp_path}")
    assert result.returncode == 2
    assert "train-images-idx3-ubyte" in result.stderr and "t10k-labels-idx1-ubyte" in result.stderr


def test_cuda_device_on_a_machine_without_one_exits_2():
    from neurarust.cli.device import driver_device_count

    if driver_device_count():
        pytest.skip("this machine has a CUDA device")
    result = train("--device", "cuda:0")
    assert result.returncode == 2 and "no CUDA device is available" in result.stderr


def test_a_resumed_run_keeps_its_learning_rate(tmp_path):
    assert train(*FAST, "--epochs", "1", "--out", str(tmp_path)).returncode == 0
    result = train("--resume", str(tmp_path), "--lr", "0.5")
    assert result.returncode == 2 and "cannot change lr" in result.stderr


def test_an_existing_run_is_not_overwritten(tmp_path):
    assert train(*FAST, "--epochs", "1", "--out", str(tmp_path)).returncode == 0
    result = train(*FAST, "--epochs", "1", "--out", str(tmp_path))
    assert result.returncode == 2 and f"--resume {tmp_path}" in result.stderr


def test_the_cpu_path_imports_neither_torch_nor_triton(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        tried = []
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "triton"):
                    tried.append(name)
                    raise ImportError(name + " is blocked in this test")
        sys.meta_path.insert(0, Block())
        from neurarust.cli import main
        status = main(["train", "--epochs", "1", "--batch-size", "256", "--out", {str(tmp_path)!r}])
        print("status", status, "tried", tried)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "status 0 tried []", result.stderr


def test_progress_redraws_one_line_on_a_terminal_and_logs_lines_elsewhere():
    import io

    tty = io.StringIO()
    bar = Progress("epoch 1/1", total=2, stream=tty, tty=True)
    bar.update(0.5)
    bar.update(0.25)
    bar.close()
    assert "\r" in tty.getvalue() and "step 2/2" in tty.getvalue() and "loss 0.3750" in tty.getvalue()
    log = io.StringIO()
    bar = Progress("epoch 1/1", total=2, stream=log, tty=False, interval=0.0)
    bar.update(0.5)
    assert log.getvalue().startswith("epoch 1/1 step 1/2 ") and "\r" not in log.getvalue()


# -- data-parallel: --nproc N (2 gloo processes on the CPU) -------------------------------------------

DDP_FAST = ["--model", "mlp", "--scheduler", "none"]


def test_nproc_2_reaches_the_accuracy_of_one_process_and_rank_0_alone_writes(tmp_path):
    import neurarust as nr
    from neurarust.cli.models import build_model

    one, two = tmp_path / "one", tmp_path / "two"
    # the same global batch: 32 in one process, 16 per process in two
    assert train(*DDP_FAST, "--batch-size", "32", "--epochs", "1", "--out", str(one)).returncode == 0
    result = train(*DDP_FAST, "--batch-size", "16", "--epochs", "1", "--nproc", "2", "--out", str(two))
    assert result.returncode == 0, result.stderr
    ((single,), (parallel,)) = metrics(one), metrics(two)
    assert single["val_acc"] >= 0.88 and parallel["val_acc"] >= 0.88
    assert abs(single["val_acc"] - parallel["val_acc"]) <= 0.05
    assert "batch 16 per process x 2 processes" in result.stdout
    assert result.stdout.count("neurarust train:") == 1 and result.stdout.count("epoch 1/1  train loss") == 1
    assert sorted(p.name for p in two.iterdir() if p.name != "curves.png") == \
        ["checkpoint", "config.toml", "metrics.jsonl"]
    # the checkpoint holds the plain model's state (not the DistributedDataParallel wrapper's)
    build_model("mlp", (1, 8, 8), 10).load_state_dict(nr.load(str(two / "checkpoint" / "model.safetensors")))


def test_ctrl_c_stops_every_rank_and_nproc_2_resumes_exactly(tmp_path):
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    args = [*DDP_FAST, "--batch-size", "8", "--nproc", "2"]
    command = [sys.executable, "-m", "neurarust", "train", *args, "--epochs", "50", "--out", str(stopped)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    for line in proc.stdout:                 # interrupt the launcher and both ranks, most likely mid-epoch 2
        if line.startswith("epoch 1/50"):
            time.sleep(0.2)
            os.killpg(proc.pid, signal.SIGINT)
            break
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"continue with: neurarust train --resume {stopped} --nproc 2" in rest
    resumed = train("--resume", str(stopped), "--epochs", "2", "--nproc", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert train(*args, "--epochs", "2", "--out", str(whole)).returncode == 0
    assert metrics(stopped)[:2] == metrics(whole)


def test_a_mid_epoch_checkpoint_refuses_another_number_of_processes(tmp_path):
    import io

    from neurarust.cli.config import OptionError, resolve
    from neurarust.cli.datasets import load_data
    from neurarust.cli.trainer import Trainer

    config = resolve({"model": "mlp", "epochs": 1, "batch_size": 256, "out": str(tmp_path)})
    trainer = Trainer(config, load_data("digits"), "cpu", stream=io.StringIO())
    state = {**trainer.trainer_state(), "step": 3, "world_size": 2}     # saved mid-epoch by 2 processes
    with pytest.raises(OptionError, match=r"resume it with --nproc 2 \(not 1\)"):
        trainer.restore(trainer.model.state_dict(), trainer.optimizer.state_dict(), state)


def test_nproc_below_1_exits_2():
    result = train("--nproc", "0")
    assert result.returncode == 2 and "--nproc must be at least 1, got 0" in result.stderr
