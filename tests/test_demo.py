"""The main job, `python -m gpugrad demo`: digits training, checkpoints, plots, examples."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.__main__ import main

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")

ROOT = Path(__file__).resolve().parents[1]
_EPOCH = re.compile(r"^epoch +(\d+)/(\d+)  loss (\d+\.\d{4})  test accuracy (\d+\.\d\d) % "
                    r"\((\d+)/359\)  \d+\.\d\d s$")
_FINAL = re.compile(r"^test accuracy (\d+\.\d\d) % \((\d+)/359\) after (\d+) epochs? "
                    r"\(\d+\.\d s of training on (\S+)\)$")


def run_main(capsys, *argv):
    """main(argv) in this process: (exit status, stdout lines, stderr)."""
    status = main(["demo", *argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def cli(*argv):
    return subprocess.run([sys.executable, "-m", "gpugrad", "demo", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def untimed(lines):
    """The printed lines with the wall-clock times taken out."""
    return [re.sub(r"\d+\.\d+ s\b", "<t> s", ln) for ln in lines]


def results(lines):
    """(losses, per-epoch accuracies, final accuracy, device) parsed from the output."""
    epochs = [_EPOCH.match(ln) for ln in lines if ln.startswith("epoch ")]
    assert epochs and all(epochs), lines
    (final,) = [m for m in map(_FINAL.match, lines) if m]
    return ([float(m[3]) for m in epochs], [float(m[4]) for m in epochs], float(final[1]),
            final[4])


def test_short_training_prints_each_epoch(capsys, device):
    status, lines, err = run_main(capsys, "--epochs", "2", "--device", device)
    assert status == 0, err
    assert lines[0] == f"device: {gg.device(device)}"
    assert lines[1].startswith("data: scikit-learn digits, 1438 training / 359 test images")
    assert lines[2] == ("model: 64 -> 128 sigmoid -> 10, softmax cross-entropy (label "
                        "smoothing 0.1), Adam lr 0.01 cosine-annealed to 0, batch size 32")
    losses, accs, final, on = results(lines)
    assert len(losses) == 2 and losses[1] < losses[0]
    assert final == accs[-1] >= 90.0 and on == str(gg.device(device))


def test_auto_picks_cuda_only_when_it_works(capsys):
    status, lines, err = run_main(capsys, "--epochs", "1")
    assert status == 0, err
    assert lines[0] == ("device: cuda:0" if gg.cuda.is_available() else "device: cpu")


def test_defaults_reach_97_percent(capsys):
    status, lines, err = run_main(capsys, "--device", "cpu")
    assert status == 0, err
    losses, accs, final, _ = results(lines)
    assert len(accs) == 30 and final >= 97.0


def test_same_seed_same_numbers_on_cpu(capsys):
    runs = [run_main(capsys, "--epochs", "3", "--device", "cpu", "--seed", str(s))[1]
            for s in (7, 7, 8)]
    assert untimed(runs[0]) == untimed(runs[1])
    assert results(runs[0])[0] != results(runs[2])[0]  # the seed does matter


def test_save_then_load_gives_the_same_accuracy(capsys, tmp_path):
    path = tmp_path / "digits.safetensors"
    status, lines, err = run_main(capsys, "--epochs", "2", "--device", "cpu", "--seed", "3",
                                  "--hidden", "32", "--save", str(path))
    assert status == 0, err
    assert lines[-1] == f"saved the model to {path}"
    trained = results(lines)[2]
    status, lines, err = run_main(capsys, "--device", "cpu", "--load", str(path))
    assert status == 0, err
    assert lines == ["device: cpu",
                     f"loaded {path}: 64 -> 32 sigmoid -> 10, split by seed 3",
                     lines[2]]
    assert re.fullmatch(rf"test accuracy {trained:.2f} % \(\d+/359\)", lines[2])
    ckpt = gg.load(path)
    assert sorted(ckpt["model"]) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert ckpt["model"]["0.weight"].shape == (32, 64) and ckpt["seed"] == 3


def test_load_refuses_what_is_no_checkpoint(capsys, tmp_path):
    missing = tmp_path / "missing.safetensors"
    status, lines, err = run_main(capsys, "--load", str(missing), "--device", "cpu")
    assert status == 1 and lines == []
    assert err.startswith("python -m gpugrad demo: --load: cannot read the checkpoint")
    other = tmp_path / "other.safetensors"
    gg.save({"w": gg.ones(2)}, other)
    status, lines, err = run_main(capsys, "--load", str(other), "--device", "cpu")
    assert status == 1 and "is not a checkpoint written by" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as e:
        main(["demo", "--load", str(other), "--save", str(missing)])
    assert e.value.code == 2
    assert "--load evaluates a checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("key, value, says", [
    ("hidden", -1, "its 'hidden' is -1"), ("hidden", 2.5, "its 'hidden' is 2.5"),
    ("hidden", "x", "its 'hidden' is 'x'"), ("hidden", 10**30, "does not fit"),
    ("seed", "s", "its 'seed' is 's'"), ("seed", 2**64, "its 'seed' is"),
    ("model", 3, "does not fit the demo's model")])
def test_load_of_a_damaged_checkpoint_is_one_line(capsys, tmp_path, key, value, says):
    # these were tracebacks from mlp(), int() or the Generator (and 2.5 was read as 2)
    path = tmp_path / "digits.safetensors"
    status, _, err = run_main(capsys, "--epochs", "1", "--device", "cpu", "--hidden", "2",
                              "--save", str(path))
    assert status == 0, err
    ckpt = gg.load(path)
    ckpt[key] = value
    gg.save(ckpt, path)
    status, lines, err = run_main(capsys, "--load", str(path), "--device", "cpu")
    assert status == 1 and lines == []
    assert err.startswith("python -m gpugrad demo: --load: ") and says in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("option", ["--save", "--plot"])
def test_an_unwritable_output_is_one_line(capsys, tmp_path, option):
    pytest.importorskip("matplotlib")
    path = tmp_path / "no-such-dir" / "out"
    status, lines, err = run_main(capsys, "--epochs", "1", "--device", "cpu", option, str(path))
    assert status == 1 and results(lines)  # trained, then could not write
    assert err.startswith("python -m gpugrad demo: ") and err.count("\n") == 1
    assert "cannot write" in err and "Traceback" not in err
    assert "no-such-dir" in err


def test_plot_writes_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    status, lines, err = run_main(capsys, "--epochs", "2", "--device", "cpu", "--plot",
                                  str(path))
    assert status == 0, err
    assert lines[-1] == f"saved the loss and accuracy curves to {path}"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_to_a_path_without_suffix_writes_that_path(capsys, tmp_path):
    # matplotlib alone would write curves.png and the message would name a missing file
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves"
    status, lines, err = run_main(capsys, "--epochs", "1", "--device", "cpu", "--plot",
                                  str(path))
    assert status == 0, err
    assert lines[-1] == f"saved the loss and accuracy curves to {path}"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves"]


def test_plot_to_an_unknown_format_is_refused_before_training(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    status, lines, err = run_main(capsys, "--epochs", "1", "--device", "cpu", "--plot",
                                  str(tmp_path / "curves.nope"))
    assert status == 1 and lines == []  # no training spent on a plot it cannot write
    assert err.startswith("python -m gpugrad demo: --plot: cannot write") and "'nope'" in err
    assert err.count("\n") == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("example", ["graphs", "backprop-step"])
@pytest.mark.parametrize("option", ["--save", "--plot", "--load"])
def test_examples_refuse_the_training_options(capsys, tmp_path, example, option):
    # they were ignored silently: no checkpoint, no plot, no evaluation
    with pytest.raises(SystemExit) as e:
        main(["demo", "--example", example, option, str(tmp_path / "out.png")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"--example {example} does not train: {option}" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("module, argv", [
    ("sklearn", []), ("tqdm", []), ("matplotlib", ["--plot", "curves.png"])])
def test_a_missing_package_says_how_to_install_it(capsys, monkeypatch, tmp_path, module, argv):
    monkeypatch.chdir(tmp_path)
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    monkeypatch.setitem(sys.modules, module, None)
    status, lines, err = run_main(capsys, "--epochs", "1", "--device", "cpu", *argv)
    assert status == 1
    assert not any(ln.startswith("epoch") for ln in lines)  # fails before training
    assert err.count("\n") == 1 and "pip install 'gpugrad[demo]'" in err
    assert not (tmp_path / "curves.png").exists()


@pytest.mark.skipif(gg.cuda.is_available(), reason="a CUDA GPU works here")
def test_cuda_without_a_gpu_is_one_line_not_a_traceback():
    r = cli("--device", "cuda", "--epochs", "1")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("python -m gpugrad demo: CUDA device requested")
    assert "pip install" in r.stderr


def test_bad_options_are_refused(capsys):
    for argv in (["--epochs", "0"], ["--lr", "-1"], ["--batch-size", "x"],
                 ["--label-smoothing", "1"], ["--example", "nope"],
                 ["--seed", str(2**64)]):
        with pytest.raises(SystemExit) as e:
            main(["demo", *argv])
        assert e.value.code == 2
        assert argv[0] in capsys.readouterr().err
    status, _, err = run_main(capsys, "--device", "tpu")
    assert status == 1 and err.count("\n") == 1 and "tpu" in err


def test_command_line_trains_as_main_does(capsys):
    # another process, the same printed numbers: nothing depends on hash order or state
    r = cli("--epochs", "1", "--device", "cpu", "--seed", "5")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert results(lines)[2] >= 85.0 and " after 1 epoch (" in lines[-1]
    assert untimed(lines) == untimed(run_main(capsys, "--epochs", "1", "--device", "cpu",
                                              "--seed", "5")[1])


# ---- the worked examples ---------------------------------------------------------

BACKPROP_STEP = """\
backprop step: a 2-2-1 linear network (no activations)
  h1 = i1*w1 + i2*w2,  h2 = i1*w3 + i2*w4,  out = h1*w5 + h2*w6
  input (2, 3), target 1, loss = 1/2 (out - target)^2, one SGD step at lr 0.05

  prediction before: 0.191   loss 0.32724

  weight      before    gradient       after
  w1            0.11    -0.22652    0.121326
  w2            0.21    -0.33978    0.226989
  w3            0.12     -0.2427    0.132135
  w4            0.08    -0.36405   0.0982025
  w5            0.14    -0.68765    0.174383
  w6            0.15    -0.38832    0.169416

  prediction after:  0.2557   loss 0.276957
"""


def test_backprop_step_prints_the_textbook_numbers(capsys, device):
    status, lines, err = run_main(capsys, "--example", "backprop-step", "--device", device)
    assert status == 0, err
    assert "\n".join(lines) + "\n" == BACKPROP_STEP


def test_backprop_step_matches_pytorch():
    torch = pytest.importorskip("torch")
    from gpugrad.__main__ import backprop_step
    w = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for v in (0.11, 0.21, 0.12, 0.08, 0.14, 0.15)]

    def forward():
        return (2 * w[0] + 3 * w[1]) * w[4] + (2 * w[2] + 3 * w[3]) * w[5]

    before = forward()
    (0.5 * (before - 1) ** 2).backward()
    torch.optim.SGD(w, lr=0.05).step()
    b, a = backprop_step("cpu")
    assert b == pytest.approx(before.item(), abs=1e-15)
    assert a == pytest.approx(forward().item(), abs=1e-15)
    # the printed gradients are PyTorch's, to the 6 digits printed
    assert [f"{p.grad.item():.6g}" for p in w] == [
        "-0.22652", "-0.33978", "-0.2427", "-0.36405", "-0.68765", "-0.38832"]


GRAPHS = """
g = (x + y) * z at x=1, y=3, z=-3
  node          op             forward    gradient
  x             input                1          -3
  y             input                3          -3
  z             input               -3           4
  q             add                  4          -3
  g             mul                -12           1

shopping: 2 pencils at 100, 3 erasers at 30, 10% tax
  node          op             forward    gradient
  pencil        input              100         2.2
  n_pencil      input                2         110
  eraser        input               30         3.3
  n_eraser      input                3          33
  tax           input              1.1         290
  pencils       mul                200         1.1
  erasers       mul                 90         1.1
  subtotal      add                290         1.1
  total         mul                319           1

shared subexpression: a = x*x; b = a*a + a at x=3 (db/dx = (2a+1) 2x)
  node          op             forward    gradient
  x             input                3         114
  a             mul                  9          19
  b             add                 90           1
"""


def test_graphs_example_prints_as_before():
    r = cli("--example", "graphs", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert r.stdout == GRAPHS


def test_training_steps_match_pytorch():
    # the demo's whole stack at once: Linear, Sigmoid, label-smoothed cross-entropy,
    # Adam and the cosine schedule, from the same weights on the same batches
    torch = pytest.importorskip("torch")
    from gpugrad.__main__ import digits, mlp
    X, y, *_ = digits(0)
    gg.manual_seed(0)
    model = mlp(16)
    ref = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 10))
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.copy_(torch.from_numpy(model.state_dict()[name].numpy()))
    opt = gg.optim.Adam(model.parameters(), lr=0.01)
    sched = gg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    topt = torch.optim.Adam(ref.parameters(), lr=0.01)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=5)
    loss_fn = gg.nn.CrossEntropyLoss(label_smoothing=0.1)
    for step in range(5):
        rows = slice(32 * step, 32 * step + 32)
        loss = loss_fn(model(X[rows]), y[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        tloss = torch.nn.functional.cross_entropy(
            ref(torch.from_numpy(X[rows].numpy())), torch.from_numpy(y[rows].numpy()),
            label_smoothing=0.1)
        topt.zero_grad()
        tloss.backward()
        topt.step()
        tsched.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-5)
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(model.state_dict()[name].numpy(), p.detach().numpy(),
                                   rtol=1e-4, atol=1e-6)
