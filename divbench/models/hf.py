"""The transformers backend: local HF folders, GGUF files, hub names, optional peft LoRA adapters.

Sampling is done by divbench, not by ``generate``'s warpers: each request owns a ``torch.Generator``
seeded from its seed, and a final logits processor draws one token per row from it (Gumbel-max over
the filtered logits) and hands ``generate`` a one-hot score that greedy decoding then picks. A
request's texts therefore depend only on its seed, never on which requests share its batch.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.utils import logging as hf_logging

from divbench.models.base import (
    BackendError,
    BackendOptions,
    GenOutput,
    GenRequest,
    OptionRequest,
    ProgressFn,
)
from divbench.models.default import default_cache_dir, ensure_default_model, quiet_progress
from divbench.types import Message, Sampling

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
_SENTINEL = "DIVBENCH-REPLY-SENTINEL"
_SCORE_TOKENS = 1024  # continuation tokens per scoring forward (bounds the B x T x vocab logits)


# ----------------------------------------------------------------------------- resolving and loading


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: a local folder, a GGUF file, or a hub name."""

    kind: str  # "folder" | "gguf" | "hub"
    name: str  # what the user passed (or the default model's folder)
    path: Path | None = None  # folder, or the .gguf file
    revision: str | None = None


def resolve_model(model: str, revision: str | None = None) -> ModelSource:
    """Turn the ``model`` argument into a :class:`ModelSource`, or raise a one-line BackendError."""
    if model == "default":
        folder = ensure_default_model()
        return ModelSource("folder", "default", folder)
    path = Path(model).expanduser()
    if path.exists():
        if path.is_file() and path.suffix == ".gguf":
            return ModelSource("gguf", model, path.resolve())
        if path.is_dir() and (path / "config.json").is_file():
            return ModelSource("folder", model, path.resolve())
        raise BackendError(f"'{model}' is not a model folder (no config.json)")
    if _HUB_NAME.match(model):
        return ModelSource("hub", model, None, revision)
    raise BackendError(f"model path '{model}' does not exist")


def resolve_adapter(adapter: str | None) -> Path | None:
    """Check that ``adapter`` is a peft adapter folder."""
    if adapter is None:
        return None
    path = Path(adapter).expanduser()
    if not path.exists():
        raise BackendError(f"adapter path '{adapter}' does not exist")
    if not (path.is_dir() and (path / "adapter_config.json").is_file()):
        raise BackendError(f"'{adapter}' is not a peft adapter folder (no adapter_config.json)")
    return path.resolve()


def pick_device(device: str) -> str:
    """``auto`` is cuda when available, else cpu."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def pick_dtype(dtype: str, device: str) -> torch.dtype:
    """``auto`` is bfloat16 on cuda and float32 elsewhere."""
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in _DTYPES:
        raise BackendError(f"unknown dtype '{dtype}' (use auto, float32, bfloat16 or float16)")
    return _DTYPES[dtype]


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first[:limit]


def load_model(source: ModelSource, dtype: torch.dtype) -> tuple[PreTrainedModel, Any]:
    """Load model and tokenizer; failures become one-line BackendErrors."""
    kwargs: dict[str, Any] = {}
    if source.kind == "gguf":
        assert source.path is not None
        where, kwargs["gguf_file"] = str(source.path.parent), source.path.name
    elif source.kind == "folder":
        where = str(source.path)
    else:
        where = source.name
        if source.revision:
            kwargs["revision"] = source.revision
    load_dtype = torch.float32 if source.kind == "gguf" else dtype
    try:
        with quiet_progress():
            tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(where, dtype=load_dtype, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, ImportError) as exc:
        if source.kind == "hub":
            raise BackendError(
                f"model '{source.name}' is not a local path and could not be loaded from the hub: {_one_line(exc)}"
            ) from exc
        raise BackendError(f"cannot load model '{source.name}': {_one_line(exc)}") from exc
    if source.kind == "gguf":
        model.hf_quantizer = None  # weights are dequantized fp32 already
        model = model.to(dtype)
    return model, tokenizer


def apply_adapter(model: PreTrainedModel, adapter: Path, dtype: torch.dtype) -> PreTrainedModel:
    """Apply a peft adapter; merge it into fp32 weights (in bf16/fp16 a merge would round it away)."""
    try:
        from peft import PeftModel

        with quiet_progress(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # peft 0.21 calls a deprecated transformers 5 API
            peft_model = PeftModel.from_pretrained(model, str(adapter))
    except Exception as exc:  # peft raises many types for a bad adapter
        raise BackendError(f"cannot apply adapter '{adapter}': {_one_line(exc)}") from exc
    if dtype == torch.float32:
        with contextlib.suppress(Exception):  # adapters without a merge stay unmerged
            return peft_model.merge_and_unload()
    return peft_model


def create_hf_backend(model: str, adapter: str | None, options: BackendOptions) -> HFBackend:
    """The ``hf`` backend factory: resolve, load, apply the adapter, configure threads."""
    if options.threads:
        torch.set_num_threads(options.threads)
    hf_logging.disable_progress_bar()  # progress goes through divbench's reporter
    source = resolve_model(model, options.extra.get("revision"))
    adapter_path = resolve_adapter(adapter)
    device = pick_device(options.device)
    dtype = pick_dtype(options.dtype, device)
    lm, tokenizer = load_model(source, dtype)
    if adapter_path is not None:
        lm = apply_adapter(lm, adapter_path, dtype)
    try:
        lm = lm.to(device)
    except (RuntimeError, AssertionError) as exc:
        raise BackendError(f"cannot move the model to device '{device}': {_one_line(exc)}") from exc
    cache = Path(options.extra["cache_dir"]) if "cache_dir" in options.extra else None
    return HFBackend(lm, tokenizer, source=source, adapter=adapter_path, batch_size=options.batch_size, cache_dir=cache)


# ----------------------------------------------------------------------------- fingerprints


def _fingerprint_file(path: Path, cache: dict[str, Any]) -> str:
    """sha256 of a file's bytes, reusing ``cache`` when (realpath, size, mtime_ns) match."""
    real = os.path.realpath(path)
    st = os.stat(real)
    hit = cache.get(real)
    if hit and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
        return str(hit["sha256"])
    digest = hashlib.sha256()
    with open(real, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    cache[real] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest.hexdigest()}
    return digest.hexdigest()


class FingerprintCache:
    """File hashes kept in ``<cache>/fingerprints.json`` so large weights are hashed once."""

    def __init__(self, cache_dir: Path) -> None:
        self.path = cache_dir / "fingerprints.json"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.files: dict[str, Any] = dict(data.get("files", {}))
        except (OSError, ValueError, AttributeError):
            self.files = {}
        self._dirty = False

    def file_hash(self, path: Path) -> str:
        before = len(self.files), self.files.get(os.path.realpath(path))
        digest = _fingerprint_file(path, self.files)
        self._dirty |= before != (len(self.files), self.files.get(os.path.realpath(path)))
        return digest

    def save(self) -> None:
        """Write atomically; an unwritable cache only costs re-hashing next time."""
        if not self._dirty:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".fingerprints-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": 1, "files": self.files}, fh, indent=0, sort_keys=True)
            os.replace(tmp, self.path)
            self._dirty = False


def weight_files(source: ModelSource) -> list[Path]:
    """The files whose bytes define a local model's weights."""
    if source.path is None:
        return []
    if source.kind == "gguf":
        return [source.path]
    return sorted(
        p
        for p in source.path.iterdir()
        if p.is_file() and p.suffix in WEIGHT_SUFFIXES and not p.name.startswith("training_args")
    )


def adapter_config_hash(adapter: Path) -> str:
    """Hash of adapter_config.json without its location-dependent keys."""
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    for key in ("base_model_name_or_path", "revision"):
        config.pop(key, None)
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compute_fingerprint(source: ModelSource, adapter: Path | None, cache_dir: Path) -> str:
    """sha256 over weight-file contents (+ adapter), or over name and revision for a hub model."""
    cache = FingerprintCache(cache_dir)
    if source.kind == "hub":
        parts = [f"hub:{source.name}@{source.revision or 'main'}"]
    else:
        parts = sorted(cache.file_hash(p) for p in weight_files(source))
        if not parts:
            raise BackendError(f"'{source.name}' has no weight files (*.safetensors, *.bin, *.gguf)")
    if adapter is not None:
        parts.append("adapter")
        parts += sorted(cache.file_hash(adapter / n) for n in ADAPTER_WEIGHTS if (adapter / n).is_file())
        parts.append(adapter_config_hash(adapter))
    cache.save()
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:32]


# ----------------------------------------------------------------------------- sampling


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float, min_p: float) -> torch.Tensor:
    """Set to -inf what top_k, then top_p, then min_p exclude (ties at a cut are kept)."""
    vocab = logits.shape[-1]
    if 0 < top_k < vocab:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0 or min_p > 0.0:
        probs = torch.softmax(logits, dim=-1)
        if top_p < 1.0:
            logits = logits.masked_fill(probs < _nucleus_cut(probs, top_p), float("-inf"))
        if min_p > 0.0:
            cut = min_p * probs.max(dim=-1, keepdim=True).values
            logits = logits.masked_fill(probs < cut, float("-inf"))
    return logits


def _nucleus_cut(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Per row, the smallest probability inside the top-p nucleus (a partial sort that grows as needed)."""
    vocab = probs.shape[-1]
    k = min(64, vocab)
    while True:
        values = torch.topk(probs, k, dim=-1).values
        cum = values.cumsum(dim=-1)
        enough = cum[:, -1] >= top_p
        if bool(enough.all()) or k == vocab:
            idx = (cum < top_p).sum(dim=-1, keepdim=True).clamp(max=k - 1)
            return values.gather(-1, idx)
        k = min(vocab, k * 8)


def sampling_logprobs(logits: torch.Tensor, sampling: Sampling | None) -> torch.Tensor:
    """Log-probabilities (last axis: vocabulary) of the next-token distribution the sampler draws from."""
    logits = logits.float()
    if sampling is None:
        return torch.log_softmax(logits, dim=-1)
    flat = logits.reshape(-1, logits.shape[-1])
    if sampling.temperature == 0:
        out = torch.full_like(flat, float("-inf")).scatter_(-1, flat.argmax(dim=-1, keepdim=True), 0.0)
    else:
        filtered = filter_logits(flat / sampling.temperature, sampling.top_k, sampling.top_p, sampling.min_p)
        out = torch.log_softmax(filtered, dim=-1)
    return out.reshape(logits.shape)


class SeededSampler(LogitsProcessor):
    """The last logits processor: samples one token per row with its request's generator.

    Rows ``[i*n, (i+1)*n)`` belong to request ``i``. Every step draws a fixed amount of noise per
    row (one uniform per vocabulary entry), so a generator's stream never depends on the logits.
    Returns scores that are -inf except at the chosen token, so greedy decoding picks it.
    """

    def __init__(self, sampling: Sampling, generators: Sequence[torch.Generator], rows_per_request: int) -> None:
        self.sampling = sampling
        self.generators = list(generators)
        self.n = rows_per_request

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        s = self.sampling
        logits = scores.float()
        if s.temperature == 0:
            return logits
        logits = filter_logits(logits / s.temperature, s.top_k, s.top_p, s.min_p)
        noise = torch.empty_like(logits)
        for i, gen in enumerate(self.generators):
            noise[i * self.n : (i + 1) * self.n].uniform_(generator=gen)
        # Gumbel-max: argmax(logits - log(-log u)); in place to spare rows x vocab allocations
        noise.log_().neg_().log_()
        choice = torch.argmax(logits.sub_(noise), dim=-1, keepdim=True)
        return noise.fill_(float("-inf")).scatter_(-1, choice, 0.0)


class GroupPicker(LogitsProcessor):
    """Diverse beam search with one beam per group (Vijayakumar et al.'s Hamming diversity), as a processor.

    Rows ``[i*g, (i+1)*g)`` are the ``g`` groups of request ``i``. At every step group j takes the token
    maximising ``log p(token) - penalty * (how many of groups 0..j-1 of its request took that token at
    this step)``; rows the watcher has finished neither pick nor count. With one beam per group this is
    transformers' group beam search (``num_beams = num_beam_groups``) except that a group ends at its
    first end-of-turn token instead of keeping it as a finished hypothesis while it searches on.
    Returns one-hot scores, like :class:`SeededSampler`, so greedy decoding takes the pick.
    """

    def __init__(self, groups: int, penalty: float, watcher: StopWatcher) -> None:
        self.groups = groups
        self.penalty = penalty
        self.watcher = watcher

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logp = torch.log_softmax(scores.float(), dim=-1)
        rows, vocab = logp.shape
        logp = logp.view(rows // self.groups, self.groups, vocab)
        live = torch.tensor([end is None for end in self.watcher.ends], device=logp.device)
        live = live.view(-1, self.groups)
        counts = torch.zeros((logp.shape[0], vocab), device=logp.device)
        picks = torch.empty((logp.shape[0], self.groups), dtype=torch.long, device=logp.device)
        for group in range(self.groups):
            pick = torch.argmax(logp[:, group] - self.penalty * counts, dim=-1)
            picks[:, group] = pick
            counts.scatter_add_(1, pick[:, None], live[:, group, None].float())
        out = torch.full((rows, vocab), float("-inf"), device=logp.device)
        return out.scatter_(-1, picks.view(-1, 1), 0.0)


class StopWatcher(StoppingCriteria):
    """Ends rows at EOS, at a stop string or at max_new_tokens, and records where and why."""

    def __init__(self, tokenizer: Any, prompt_len: int, rows: int, eos_ids: set[int], sampling: Sampling) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.eos_ids = eos_ids
        self.stop = tuple(s for s in sampling.stop if s)
        self.window = 2 * max((len(s) for s in self.stop), default=0) + 8
        self.max_new = sampling.max_new_tokens
        self.ends: list[int | None] = [None] * rows
        self.reasons: list[str] = ["length"] * rows

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        new = input_ids[:, self.prompt_len :]
        n_new = new.shape[1]
        last = new[:, -1].tolist()
        for row, end in enumerate(self.ends):
            if end is not None:
                continue
            if last[row] in self.eos_ids or self._hit_stop(new[row]):
                self.ends[row], self.reasons[row] = n_new, "stop"
            elif n_new >= self.max_new:
                self.ends[row] = n_new
        done = [end is not None for end in self.ends]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _hit_stop(self, row_ids: torch.Tensor) -> bool:
        if not self.stop:
            return False
        tail = self.tokenizer.decode(row_ids[-self.window :].tolist(), skip_special_tokens=True)
        return any(s in tail for s in self.stop)


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the first occurrence of any stop string."""
    hits = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


# ----------------------------------------------------------------------------- the backend


class HFBackend:
    """A transformers causal LM (plus optional adapter) behind the divbench Backend protocol."""

    name = "hf"

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: Any,
        *,
        source: ModelSource,
        adapter: Path | None = None,
        batch_size: int = 64,
        cache_dir: Path | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.source = source
        self.adapter = adapter
        self.batch_size = max(1, batch_size)
        self.cache_dir = cache_dir or default_cache_dir()
        self._fingerprint: str | None = None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.has_template = bool(getattr(tokenizer, "chat_template", None))
        self.end_of_turn_id = end_of_turn_id(tokenizer)
        self.eos_ids = self._eos_ids()
        self.model_generation_config = model.generation_config
        self._keep_last = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
        # Only divbench's sampling applies: no repetition penalty etc. from the model's defaults.
        self.model.generation_config = GenerationConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=sorted(self.eos_ids) or None,
            pad_token_id=tokenizer.pad_token_id,
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for value in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id, self.end_of_turn_id):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return ids

    # -- identity

    def fingerprint(self) -> str:
        """Content hash of the weight files and adapter files (cached by path, size and mtime)."""
        if self._fingerprint is None:
            source = self.source
            if source.kind == "hub":
                commit = getattr(self.model.config, "_commit_hash", None)
                source = ModelSource("hub", source.name, None, commit or source.revision)
            self._fingerprint = compute_fingerprint(source, self.adapter, self.cache_dir)
        return self._fingerprint

    def describe(self) -> dict[str, str]:
        import transformers

        info = {
            "backend": self.name,
            "model": self.source.name,
            "path": str(self.source.path) if self.source.path else "",
            "source": self.source.kind,
            "adapter": str(self.adapter) if self.adapter else "",
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        }
        if self.adapter:
            import peft

            info["peft"] = peft.__version__
        return info

    # -- prompts

    def render(self, messages: Sequence[Message]) -> str:
        """Chat template with the generation prompt; a trailing assistant message is a reply prefix."""
        msgs = [dict(m) for m in messages]
        prefix = ""
        if msgs and msgs[-1]["role"] == "assistant":
            prefix = msgs.pop()["content"]
        if not self.has_template:
            return "\n\n".join([m["content"] for m in msgs] + ([prefix] if prefix else []))
        head = ""
        if msgs:
            head = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return head + prefix

    def encode(self, text: str) -> list[int]:
        """Token ids of a rendered prompt (a chat template brings its own special tokens)."""
        return list(self.tokenizer(text, add_special_tokens=not self.has_template)["input_ids"])

    # -- generation

    def generate(
        self, requests: Sequence[GenRequest], sampling: Sampling, progress: ProgressFn | None = None
    ) -> list[GenOutput]:
        """``sampling.n`` texts per request; each request's texts depend only on its seed."""
        return self._run(requests, sampling, progress, None)

    def generate_beams(
        self,
        requests: Sequence[GenRequest],
        sampling: Sampling,
        diversity_penalty: float,
        progress: ProgressFn | None = None,
    ) -> list[GenOutput]:
        """Diverse beam search: ``sampling.n`` groups of one beam each per request (see :class:`GroupPicker`).

        Deterministic; of ``sampling`` only n, max_new_tokens and stop apply.
        """
        if diversity_penalty < 0:
            raise BackendError(f"diversity_penalty must be >= 0, got {diversity_penalty}")
        return self._run(requests, sampling, progress, lambda watcher: GroupPicker(sampling.n, diversity_penalty,
                                                                                    watcher))

    def _run(
        self,
        requests: Sequence[GenRequest],
        sampling: Sampling,
        progress: ProgressFn | None,
        picker: Callable[[StopWatcher], LogitsProcessor] | None,
    ) -> list[GenOutput]:
        prompts = [self.encode(self.render(r.messages)) for r in requests]
        outputs: list[GenOutput | None] = [None] * len(requests)
        for batch in self._plan_batches([len(p) for p in prompts], sampling.n):
            start = time.perf_counter()
            results = self._generate_batch([prompts[i] for i in batch], [requests[i].seed for i in batch], sampling,
                                           picker)
            share = (time.perf_counter() - start) / len(batch)  # every request has n rows
            for i, out in zip(batch, results, strict=True):
                out.seconds = share
                outputs[i] = out
            if progress is not None:
                progress(len(batch), sum(o.tokens for o in results))
        return [o for o in outputs if o is not None]

    def _plan_batches(self, lengths: Sequence[int], n: int) -> list[list[int]]:
        """Whole requests per batch, up to ``batch_size`` rows, similar prompt lengths together."""
        per_batch = max(1, self.batch_size // n)
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        return [order[i : i + per_batch] for i in range(0, len(order), per_batch)]

    def _left_pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            if row:
                ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
                mask[i, width - len(row) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _generate_batch(
        self,
        prompts: Sequence[list[int]],
        seeds: Sequence[int],
        sampling: Sampling,
        picker: Callable[[StopWatcher], LogitsProcessor] | None = None,
    ) -> list[GenOutput]:
        n = sampling.n
        ids, mask = self._left_pad(prompts)
        extra: dict[str, Any] = {}
        cache = self._prefill_prompts(ids, mask, n) if ids.shape[1] > 1 else None
        if cache is not None:
            extra["past_key_values"] = cache
        ids, mask = ids.repeat_interleave(n, dim=0), mask.repeat_interleave(n, dim=0)
        watcher = StopWatcher(self.tokenizer, ids.shape[1], ids.shape[0], self.eos_ids, sampling)
        if picker is not None:
            sampler = picker(watcher)
        else:
            generators = [torch.Generator(device=self.device).manual_seed(int(s)) for s in seeds]
            sampler = SeededSampler(sampling, generators, n)
        config = GenerationConfig(
            do_sample=False,
            num_beams=1,
            max_new_tokens=sampling.max_new_tokens,
            eos_token_id=sorted(self.eos_ids) or None,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
                stopping_criteria=StoppingCriteriaList([watcher]),
                **extra,
            )
        new = out[:, ids.shape[1] :].tolist()
        rows = [self._finish_row(new[r], watcher.ends[r], watcher.reasons[r], sampling) for r in range(len(new))]
        return [self._collect(rows[i * n : (i + 1) * n]) for i in range(len(prompts))]

    def _prefill_prompts(self, ids: torch.Tensor, mask: torch.Tensor, n: int) -> Any:
        """KV cache of each distinct prompt but its last token, computed once and repeated for its n rows.

        None when the model's cache cannot be repeated; ``generate`` then prefills every row itself.
        """
        positions = (mask.cumsum(dim=-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids[:, :-1],
                attention_mask=mask[:, :-1],
                position_ids=positions[:, :-1],
                use_cache=True,
                **self._keep_last,
            )
        cache = getattr(out, "past_key_values", None)
        if not hasattr(cache, "batch_repeat_interleave"):
            return None
        cache.batch_repeat_interleave(n)
        return cache

    def _finish_row(self, new: list[int], end: int | None, reason: str, sampling: Sampling) -> tuple[str, str, int]:
        used = new[: end if end is not None else len(new)]
        text = self.tokenizer.decode(used, skip_special_tokens=True)
        text, hit = cut_at_stop(text, sampling.stop)
        return text.strip(), "stop" if hit else reason, len(used)

    @staticmethod
    def _collect(rows: Sequence[tuple[str, str, int]]) -> GenOutput:
        return GenOutput(
            texts=[r[0] for r in rows],
            finish_reasons=[r[1] for r in rows],
            tokens=sum(r[2] for r in rows),
            seconds=0.0,
        )

    # -- exact option scoring

    @property
    def can_score_options(self) -> bool:
        return True

    def score_options(self, requests: Sequence[OptionRequest]) -> list[list[float]]:
        """log P(surface + end-of-turn | prompt) for every surface of every request."""
        results = []
        for req in requests:
            prompt = self.render(req.messages)
            prompt_ids = self.encode(prompt)
            replies = [self.reply_ids(prompt, prompt_ids, s) for s in req.surfaces]
            results.append(self.score_continuations(prompt_ids, replies, req.sampling))
        return results

    def reply_ids(self, prompt: str, prompt_ids: Sequence[int], surface: str) -> list[int]:
        """Token ids of ``surface`` as the continuation of ``prompt``, plus the end-of-turn token."""
        full = self.encode(prompt + surface)
        if full[: len(prompt_ids)] == list(prompt_ids):
            ids = full[len(prompt_ids) :]
        else:  # the tokenizer merged across the boundary: tokenize the reply on its own
            ids = list(self.tokenizer(surface, add_special_tokens=False)["input_ids"])
        if self.end_of_turn_id is not None:
            ids.append(self.end_of_turn_id)
        return ids

    def score_continuations(self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]],
                            sampling: Sampling | None = None) -> list[float]:
        """Summed natural-log probability of each token sequence after ``prompt_ids`` (teacher forcing),
        under the model or, given ``sampling``, under what that sampling draws from (-inf: never drawn).

        The prompt runs once; continuations run in batches against copies of its KV cache.
        """
        if not prompt_ids:
            raise BackendError("cannot score options after an empty prompt")
        with torch.inference_mode():
            prompt = torch.tensor([list(prompt_ids)], dtype=torch.long, device=self.device)
            out = self.model(input_ids=prompt, use_cache=True, **self._keep_last)
            if not hasattr(out.past_key_values, "batch_repeat_interleave"):
                raise BackendError(f"{type(self.model).__name__}: its KV cache cannot be shared; cannot score options")
            first = sampling_logprobs(out.logits[0, -1], sampling)
            scores = [0.0] * len(continuations)
            order = sorted(range(len(continuations)), key=lambda i: len(continuations[i]))
            for chunk in self._score_chunks(order, continuations):
                rows = [continuations[i] for i in chunk]
                values = self._score_chunk(out.past_key_values, first, len(prompt_ids), rows, sampling)
                for i, value in zip(chunk, values, strict=True):
                    scores[i] = value
        return scores

    def _score_chunks(self, order: list[int], continuations: Sequence[Sequence[int]]) -> Iterator[list[int]]:
        """Groups of at most ``batch_size`` rows and ``_SCORE_TOKENS`` padded continuation tokens."""
        chunk: list[int] = []
        for i in order:
            width = max(1, len(continuations[i]))
            if chunk and (len(chunk) >= self.batch_size or (len(chunk) + 1) * width > _SCORE_TOKENS):
                yield chunk
                chunk = []
            chunk.append(i)
        if chunk:
            yield chunk

    def _score_chunk(
        self, cache: Any, first: torch.Tensor, prompt_len: int, rows: Sequence[Sequence[int]],
        sampling: Sampling | None = None,
    ) -> list[float]:
        totals = [float(first[r[0]]) if r else 0.0 for r in rows]
        width = max(len(r) for r in rows)
        if width <= 1:
            return totals
        ids = torch.full((len(rows), width - 1), self.tokenizer.pad_token_id, dtype=torch.long)
        for i, r in enumerate(rows):
            if len(r) > 1:
                ids[i, : len(r) - 1] = torch.tensor(list(r[:-1]), dtype=torch.long)
        past = copy.deepcopy(cache)
        past.batch_repeat_interleave(len(rows))
        positions = torch.arange(prompt_len, prompt_len + width - 1, device=self.device).expand(len(rows), -1)
        mask = torch.ones((len(rows), prompt_len + width - 1), dtype=torch.long, device=self.device)
        logits = self.model(
            input_ids=ids.to(self.device),
            attention_mask=mask,
            position_ids=positions,
            past_key_values=past,
            use_cache=True,
        ).logits
        logp = sampling_logprobs(logits, sampling)
        for i, r in enumerate(rows):
            if len(r) > 1:
                targets = torch.tensor(list(r[1:]), dtype=torch.long, device=self.device)
                totals[i] += float(logp[i, : len(r) - 1].gather(-1, targets[:, None]).sum())
        return totals


def _accepts(model: Any, name: str) -> bool:
    """Whether the (base) model's forward takes keyword ``name``."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return name in inspect.signature(base.forward).parameters


def end_of_turn_id(tokenizer: Any) -> int | None:
    """The special token that closes an assistant turn in the chat template, else the EOS token."""
    if getattr(tokenizer, "chat_template", None):
        with contextlib.suppress(Exception):  # templates may reject this probe; fall back to EOS
            convo = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _SENTINEL}]
            text = tokenizer.apply_chat_template(convo, tokenize=False)
            tail = text.split(_SENTINEL, 1)[1]
            special = set(tokenizer.all_special_ids)
            ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
            hit = next((i for i in ids if i in special), None)
            if hit is not None:
                return int(hit)
    return tokenizer.eos_token_id
