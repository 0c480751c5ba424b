"""Hostile checkpoints: truncated, bit-flipped, tampered headers, NaN weights and pickles are refused with a
CheckpointError that names the file; nothing else escapes and no pickle is ever unpickled."""
import json
import pickle
import struct

import pytest
import torch

from app.engine.models.checkpoint import (CheckpointError, encoder_sha256_for_fine_tune, file_sha256, kept_encoder_sha256s,
                                         save_checkpoint)
from app.engine.models.tokenizer import MotionTokenizer, TokenizerConfig


@pytest.fixture
def checkpoint(tmp_path):
    model = MotionTokenizer(TokenizerConfig(input_dim=251, width=32, depth=1, codebook_size=16, code_dim=8))
    path = tmp_path / "tok.safetensors"
    save_checkpoint(path, model, model.config_dict(), {"mean": torch.zeros(251), "std": torch.ones(251)}, {"steps": 3})
    return path


def _with_header(raw: bytes, change) -> bytes:
    """The file with its JSON header passed through `change` (tensor data left as it was)."""
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    change(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + raw[8 + n:]


def _config_change(key, value):
    def change(header):
        config = json.loads(header["__metadata__"]["config"])
        config[key] = value
        header["__metadata__"]["config"] = json.dumps(config)
    return change


@pytest.mark.parametrize("key, value, fragment", [
    ("width", "abc", "'width' is 'abc', not int"),
    ("depth", 1.5, "'depth' is 1.5, not int"),
    ("codebook_size", 10**12, "'codebook_size' is 1000000000000"),
    ("width", True, "'width' is True"),
])
def test_a_tampered_config_is_refused_before_any_model_is_built(checkpoint, key, value, fragment):
    checkpoint.write_bytes(_with_header(checkpoint.read_bytes(), _config_change(key, value)))
    with pytest.raises(CheckpointError, match="tampered or corrupt header") as error:
        MotionTokenizer.load(checkpoint)
    assert fragment in str(error.value) and str(checkpoint) in str(error.value)


def test_unknown_config_keys_are_ignored(checkpoint):
    checkpoint.write_bytes(_with_header(checkpoint.read_bytes(), _config_change("from_the_future", 1)))
    assert MotionTokenizer.load(checkpoint).config.width == 32


def test_nan_weights_are_refused(checkpoint):
    raw = bytearray(checkpoint.read_bytes())
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    start = next(t["data_offsets"][0] for k, t in header.items() if k != "__metadata__" and t["dtype"] == "F32")
    raw[8 + n + start:8 + n + start + 4] = struct.pack("<f", float("nan"))  # the first value of a float tensor
    checkpoint.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        MotionTokenizer.load(checkpoint)


@pytest.mark.parametrize("cut", [0, 7, 8, 100, -1])
def test_truncated_anywhere(checkpoint, cut):
    raw = checkpoint.read_bytes()
    checkpoint.write_bytes(raw[:cut] if cut >= 0 else raw[:-1])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        MotionTokenizer.load(checkpoint)


def test_bit_flips_in_the_header_raise_only_checkpoint_errors(checkpoint):
    raw = checkpoint.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    for position in range(0, 8 + n, max(1, (8 + n) // 200)):
        flipped = bytearray(raw)
        flipped[position] ^= 0x5A
        checkpoint.write_bytes(bytes(flipped))
        try:
            MotionTokenizer.load(checkpoint)
        except CheckpointError:
            pass


class _Trap:
    def __reduce__(self):
        return (pytest.fail, ("a pickle was unpickled",))


def test_a_pickle_named_safetensors_is_never_unpickled(checkpoint):
    checkpoint.write_bytes(pickle.dumps({"weights": _Trap()}))
    with pytest.raises(CheckpointError):
        MotionTokenizer.load(checkpoint)
    torch.save({"weights": torch.zeros(3)}, checkpoint)  # torch's own pickle-based format
    with pytest.raises(CheckpointError):
        MotionTokenizer.load(checkpoint)


@pytest.mark.parametrize("metadata", ["{not json", "[1, 2]", '"a string"', "{}"])
def test_a_malformed_fine_tune_record_is_no_record(checkpoint, metadata):
    """A header whose metadata is not a JSON object (or lacks encoder_sha256) names no kept encoder, so a loader
    falls back to the file's own sha256 and refuses a file that is not the one a model was trained on."""
    def change(header):
        header["__metadata__"]["metadata"] = metadata
    checkpoint.write_bytes(_with_header(checkpoint.read_bytes(), change))
    assert kept_encoder_sha256s(checkpoint) == set()
    assert encoder_sha256_for_fine_tune(checkpoint) == [file_sha256(checkpoint)]
