"""Checkpoints never run code, bad files get one clear sentence, and a saved network says what it is.

Every load path: ``assets.load_weights``, ``assets.load_network``, ``train.checkpoint.load_checkpoint``
and the CLI's ``evaluate --checkpoint``, ``evaluate --hr-checkpoint``, ``train --hr-checkpoint`` and
``train --checkpoint`` (resume).
"""
from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from arseg_tutorial import assets
from arseg_tutorial.checkpoint_file import (CheckpointFileError, CheckpointMismatchError,
                                            network_meta, read_torch_file, weights_sha256)
from arseg_tutorial.cli import main
from arseg_tutorial.config import data_dir, get_profile
from arseg_tutorial.train import recipes
from arseg_tutorial.train.checkpoint import load_checkpoint
from arseg_tutorial.train.trainer import train
from test_train_loop import tiny_clips, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")
SHIPPED = data_dir() / "checkpoints"


class _Payload:
    """Unpickling this object runs ``os.system(command)``."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _malicious_files(folder):
    """A torch.save zip and a raw pickle whose loading would create ``marker``."""
    marker = folder / "marker"
    payload = _Payload(f"touch {marker}")
    as_zip, as_pickle = folder / "evil.pt", folder / "evil-raw.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "config": payload, "meta": {}}, as_zip)
    as_pickle.write_bytes(pickle.dumps({"state": payload}))
    return marker, [as_zip, as_pickle]


def _cli_paths(path):
    """CLI commands that load ``path`` as a checkpoint (fast: they fail before building data)."""
    return {
        "evaluate --checkpoint": ["evaluate", "--method", "hr", "--profile", "ci", "--checkpoint", path],
        "evaluate --hr-checkpoint": ["evaluate", "--method", "hr", "--profile", "ci", "--hr-checkpoint", path],
        "train --hr-checkpoint": ["train", "--method", "lr", "--profile", "ci", "--hr-checkpoint", path],
        "train --checkpoint": ["train", "--method", "hr", "--profile", "ci", "--checkpoint", path],
    }


def _library_paths(path):
    network = assets.build_network({"model": "bisenet18", "num_classes": 11, "net_width": 0.125}, False)
    return {"assets.load_weights": lambda: assets.load_weights(network, path),
            "assets.load_network": lambda: assets.load_network(path),
            "train.checkpoint.load_checkpoint": lambda: load_checkpoint(path)}


def test_a_malicious_pickle_is_refused_on_every_path_and_never_runs(tmp_path, capsys):
    marker, files = _malicious_files(tmp_path)
    for path in files:
        for name, load in _library_paths(path).items():
            with pytest.raises(CheckpointFileError, match="refused") as error:
                load()
            assert str(path) in str(error.value), name
        for name, argv in _cli_paths(str(path)).items():
            assert main(argv) == 2, name
            err = capsys.readouterr().err
            assert "refused" in err and str(path) in err, (name, err)
    assert not marker.exists()


def _bad_files(folder):
    shipped = (SHIPPED / "hr.pt").read_bytes()
    files = {"random bytes": os.urandom(4096), "empty": b"", "json": json.dumps({"model": [1, 2]}).encode(),
             "truncated": shipped[: len(shipped) // 2]}
    paths = {}
    for kind, data in files.items():
        paths[kind] = folder / f"{kind.replace(' ', '_')}.pt"
        paths[kind].write_bytes(data)
    return paths


@pytest.mark.parametrize("kind, words", [("random bytes", "not a PyTorch"), ("empty", "empty"),
                                         ("json", "JSON"), ("truncated", "truncated")])
def test_bad_files_give_one_sentence_naming_the_file(tmp_path, capsys, kind, words):
    path = _bad_files(tmp_path)[kind]
    messages = []
    for load in _library_paths(path).values():
        with pytest.raises(CheckpointFileError) as error:
            load()
        messages.append(str(error.value))
    for argv in _cli_paths(str(path)).values():
        assert main(argv) == 2
        messages.append(capsys.readouterr().err.removeprefix("error: ").strip())
    for message in messages:
        assert str(path) in message and words in message, message
        assert "\n" not in message and "invalid load key" not in message
        assert "Ran out of input" not in message


def test_a_folder_as_checkpoint_fails_before_training(tmp_path, capsys):
    folder = tmp_path / "runs"
    folder.mkdir()
    assert main(["train", "--method", "hr", "--profile", "ci", "--checkpoint", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and str(folder) in err
    assert list(folder.iterdir()) == []


def test_the_shipped_files_record_what_they_are():
    manifest = assets.load_manifest()
    hr_sha = weights_sha256(read_torch_file(SHIPPED / "hr.pt")["state_dict"])
    for name, entry in manifest["checkpoints"].items():
        meta = read_torch_file(data_dir() / entry["file"])["meta"]
        assert meta["profile"] == manifest["profile"] and meta["method"] == entry["method"]
        assert meta["net_width"] == manifest["profile_config"]["net_width"]
        assert meta["scale"] == entry["scale"] and meta["num_classes"] == 11
        assert meta["train_config"] == entry["config"]
        assert meta["creff_kernel"] == (entry["config"]["creff_kernel"] if entry["method"] == "arseg" else None)
        assert meta["hr_sha256"] == (None if name == "hr" else hr_sha)


def test_trainer_checkpoints_and_exports_record_the_teacher(tmp_path):
    clips = tiny_clips()
    hr = train(tiny_config(steps=1), clips, tmp_path / "hr.pt", progress=False, profile="ci")
    lr = train(tiny_config("lr", steps=1), clips, tmp_path / "lr.pt", progress=False,
               hr_state=hr.model.state_dict(), profile="ci")
    state = load_checkpoint(tmp_path / "lr.pt")
    assert state["meta"]["hr_sha256"] == weights_sha256(hr.model.state_dict())
    assert state["meta"]["profile"] == "ci" and state["meta"]["method"] == "lr"
    assets.export_state_dict(lr.model, tmp_path / "lr-out.pt", lr.meta)
    model, meta = assets.load_network(tmp_path / "lr-out.pt")
    assert meta["hr_sha256"] == state["meta"]["hr_sha256"]
    assert meta["weights_sha256"] == weights_sha256(lr.model.state_dict())
    assert all(torch.equal(v.half().float() if v.is_floating_point() else v, model.state_dict()[k])
               for k, v in lr.model.state_dict().items())


def _first_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_another_profile_names_both_and_the_flag(capsys, monkeypatch):
    hr = str(SHIPPED / "hr.pt")
    monkeypatch.setenv("ARSEG_PROFILE", "ci")
    for argv in (["evaluate", "--method", "hr", "--hr-checkpoint", hr],
                 ["evaluate", "--method", "hr", "--checkpoint", hr],
                 ["train", "--method", "lr", "--hr-checkpoint", hr],
                 ["evaluate", "--method", "hr", "--profile", "ci"]):
        assert main(argv) == 2
        err = _first_line(capsys)
        assert "profile laptop" in err and "profile ci" in err and "--profile laptop" in err, err
        assert "size mismatch" not in err


@pytest.mark.parametrize("argv, fix", [
    (["--method", "lr", "--scale", "0.25", "--checkpoint", "lr-0.75.pt"], "--scale 0.75"),
    (["--method", "lr", "--checkpoint", "hr.pt"], "--method hr"),
    (["--method", "arseg", "--checkpoint", "hr.pt"], "--method hr"),
    (["--method", "hr", "--checkpoint", "arseg-0.5.pt"], "--method arseg"),
    (["--method", "warp", "--checkpoint", "lr-0.5.pt"], "--method lr"),
])
def test_a_checkpoint_run_as_something_else_names_both_and_the_flag(capsys, argv, fix):
    argv = [a if not a.endswith(".pt") else str(SHIPPED / a) for a in argv]
    assert main(["evaluate", "--profile", "laptop", *argv]) == 2
    err = _first_line(capsys)
    assert fix in err and "asked for" in err, err


def test_an_arseg_checkpoint_without_its_hr_teacher_is_refused(tmp_path, capsys):
    config = recipes.make_config(get_profile("laptop"), "arseg", 0.5).to_dict()
    network = assets.build_network(config, with_creff=True)
    meta = network_meta(config, profile="laptop", has_creff=True, state_dict=network.state_dict(),
                        hr_sha256="0" * 64)
    path = tmp_path / "mine.pt"
    assets.export_state_dict(network, path, meta)
    assert main(["evaluate", "--method", "arseg", "--profile", "laptop", "--checkpoint", str(path)]) == 2
    err = _first_line(capsys)
    assert "HR teacher 000000000000" in err and "--hr-checkpoint" in err
    assert main(["evaluate", "--method", "arseg", "--profile", "laptop", "--checkpoint",
                 str(SHIPPED / "arseg-0.5.pt"), "--hr-checkpoint", str(SHIPPED / "lr-0.5.pt")]) == 2
    assert "--method lr" in _first_line(capsys)


def test_a_window_7_network_refuses_window_3_weights_and_load_network_builds_the_right_one():
    config = {"model": "bisenet18", "num_classes": 11, "net_width": 0.25}
    with pytest.raises(CheckpointMismatchError, match="creff_kernel 3.*load_network"):
        assets.load_weights(assets.build_network(config, with_creff=True), SHIPPED / "arseg-0.5.pt")
    built, meta = assets.load_network(SHIPPED / "arseg-0.5.pt")
    shipped = assets.load_shipped("arseg-0.5")
    assert built.creff.kernel == meta["creff_kernel"] == 3
    assert all(torch.equal(v, shipped.state_dict()[k]) for k, v in built.state_dict().items())
    with pytest.raises(CheckpointMismatchError, match="has no CReFF module"):
        assets.load_weights(assets.build_network(config, with_creff=True), SHIPPED / "lr-0.5.pt")


def test_gmacs_are_counted_on_the_networks_loaded_not_on_the_profile():
    """The GMACs of shipped networks are those of their own width and stride, whatever the profile."""
    from arseg_tutorial.evaluate import networks_gmacs_per_frame

    def fresh(name: str, width: float):
        config = {**assets.load_manifest()["checkpoints"][name]["config"], "net_width": width}
        return assets.build_network(config, with_creff=config["method"] == "arseg")

    ci = get_profile("ci")
    loaded = {"hr": assets.load_shipped("hr"), "lr": assets.load_shipped("lr-0.5"),
              "arseg": assets.load_shipped("arseg-0.5")}
    for width in (0.25, ci.net_width):
        built = {"hr": fresh("hr", width), "lr": fresh("lr-0.5", width), "arseg": fresh("arseg-0.5", width)}
        for method, (hr, lr) in {"hr": ("hr", None), "lr": (None, "lr"), "arseg": ("hr", "arseg"),
                                 "warp": ("hr", None)}.items():
            counted = networks_gmacs_per_frame(method, 0.5, loaded.get(hr), loaded.get(lr), ci.height, ci.width, 12)
            same = networks_gmacs_per_frame(method, 0.5, built.get(hr), built.get(lr), ci.height, ci.width, 12)
            if width == 0.25:
                assert counted == pytest.approx(same), method
            else:
                assert counted > 2 * same, method


def test_resuming_with_another_hr_teacher_is_refused_and_the_cache_path_names_the_teacher(tmp_path):
    clips = tiny_clips()
    first = train(tiny_config(steps=1), clips, tmp_path / "a.pt", progress=False).model.state_dict()
    second = train(tiny_config(steps=1, seed=1), clips, tmp_path / "b.pt", progress=False).model.state_dict()
    train(tiny_config("lr", steps=2), clips, tmp_path / "lr.pt", hr_state=first, progress=False, max_steps=1)
    with pytest.raises(CheckpointMismatchError, match="HR teacher"):
        train(tiny_config("lr", steps=2), clips, tmp_path / "lr.pt", hr_state=second, progress=False)
    profile = get_profile("ci")
    run = recipes.shipped_runs(profile)[1]
    assert (recipes.run_checkpoint_path(profile, run, first)
            != recipes.run_checkpoint_path(profile, run, second))
