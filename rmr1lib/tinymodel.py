"""A tiny offline Qwen2-style model: the CPU stand-in for the paper's Qwen2.5 base models (paper §4).

The paper starts from Qwen2.5-Instruct (and DeepSeek-R1-Distill-Qwen) checkpoints. The smoke path cannot
download them, so ``build_tiny_model`` makes a randomly initialised ``Qwen2ForCausalLM`` of the same
architecture family and a byte-level BPE tokenizer trained on local text (for example
``synthetic.corpus_for_tokenizer``), optionally gives the model a short copy pre-training on random tokens
(``pretrain_copying``: what a real base model learned in pre-training and a random one lacks), and saves both so
that ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load the folder offline,
exactly like a downloaded checkpoint.

Two details keep the folder faithful to a real Qwen2 checkpoint:
* ``AutoTokenizer`` loads a qwen2 model's tokenizer as ``Qwen2Tokenizer``, which installs Qwen2's own NFC
  normalizer and regex-split + byte-level pre-tokenizer. We train with exactly that pipeline (the regex is
  taken from transformers itself), so the reloaded tokenizer gives the same ids; the build checks this.
* vLLM's CPU attention needs a head size of at least 32, so hidden_size / num_heads >= 32 is enforced.

Engine layer: imports torch, tokenizers and transformers. Never touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import ConfigError, DataError

__all__ = ["SPECIAL_TOKENS", "CHATML_TEMPLATE", "MIN_HEAD_DIM", "INFO_FILE", "build_tiny_model",
           "read_tiny_model_info", "copy_batch", "copy_loss", "pretrain_copying", "ordinary_token_ids"]

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"
MIN_HEAD_DIM = 32
INFO_FILE = "rmr1_tiny.json"

# ChatML: every message as <|im_start|>role\ncontent<|im_end|>\n; the generation prompt opens an assistant turn.
CHATML_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def _check_args(corpus, vocab_size, hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size,
                max_positions, seed, copy_steps=0) -> list[str]:
    if isinstance(corpus, str) or not isinstance(corpus, Sequence):
        raise DataError(f"build_tiny_model: corpus must be a list of strings, got {type(corpus).__name__}")
    texts = list(corpus)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise DataError(f"build_tiny_model: corpus item {bad[0]} is {type(texts[bad[0]]).__name__}, not str")
    if not any(t.strip() for t in texts):
        raise DataError("build_tiny_model: corpus is empty; pass texts such as synthetic.corpus_for_tokenizer(rows)")
    for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size), ("num_layers", num_layers),
                        ("num_heads", num_heads), ("num_kv_heads", num_kv_heads),
                        ("intermediate_size", intermediate_size), ("max_positions", max_positions)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"build_tiny_model: {name} must be a positive integer, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"build_tiny_model: seed must be an integer, got {seed!r}")
    if isinstance(copy_steps, bool) or not isinstance(copy_steps, int) or copy_steps < 0:
        raise ConfigError(f"build_tiny_model: copy_steps must be a non-negative integer, got {copy_steps!r}")
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ConfigError(f"build_tiny_model: vocab_size {vocab_size} is below 259 (256 bytes + 3 special tokens)")
    if hidden_size % num_heads:
        raise ConfigError(f"build_tiny_model: hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
    if hidden_size // num_heads < MIN_HEAD_DIM:
        raise ConfigError(
            f"build_tiny_model: head size hidden_size/num_heads = {hidden_size // num_heads} is below "
            f"{MIN_HEAD_DIM}, which vLLM's CPU attention rejects; raise hidden_size or lower num_heads")
    if num_heads % num_kv_heads:
        raise ConfigError(f"build_tiny_model: num_heads {num_heads} is not a multiple of num_kv_heads {num_kv_heads}")
    return texts


def _check_added(added_tokens) -> list[str]:
    if isinstance(added_tokens, str) or not isinstance(added_tokens, Sequence):
        raise DataError(f"build_tiny_model: added_tokens must be a list of strings, got {type(added_tokens).__name__}")
    added = list(dict.fromkeys(added_tokens))
    bad = [t for t in added if not isinstance(t, str) or not t]
    if bad:
        raise DataError(f"build_tiny_model: added_tokens holds {bad[0]!r}; each must be a non-empty string")
    clash = [t for t in added if t in SPECIAL_TOKENS]
    if clash:
        raise DataError(f"build_tiny_model: added token {clash[0]!r} is already a special token")
    return added


def _train_tokenizer(texts: list[str], vocab_size: int, added_tokens: Sequence[str] = ()):
    """Byte-level BPE with Qwen2's normalizer and pre-tokenizer, trained on `texts`; each of `added_tokens`
    (whole strings, such as the judge prompt's fixed parts) then becomes one ordinary, decodable token."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    if added_tokens:
        tok.add_tokens([AddedToken(t, single_word=False, lstrip=False, rstrip=False, normalized=False,
                                   special=False) for t in added_tokens])
    return tok


def _corpus_sha256(texts: list[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _check_reload(folder: Path, fast_tokenizer, texts: list[str]) -> None:
    """Reload the saved tokenizer the way users will and make sure it tokenizes like the one we trained."""
    from transformers import AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    probes = list(texts) + ["<|im_start|>user\nhello<|im_end|>\n", "caf\u00e9 na\u00efve \u65e5\u672c 123 \U0001f600"]
    for probe in probes:
        if reloaded(probe)["input_ids"] != fast_tokenizer(probe)["input_ids"]:
            raise RuntimeError(
                f"tiny tokenizer: AutoTokenizer ({type(reloaded).__name__}) reloads {folder} with different ids "
                f"for {probe[:60]!r}; the installed transformers changed Qwen2's tokenizer pipeline")


# --------------------------------------------------------------------------------------------------------------
# Copy pre-training: what a real base model brings and a random one lacks
# --------------------------------------------------------------------------------------------------------------

def ordinary_token_ids(tokenizer) -> list[int]:
    """The ids copy pre-training draws from: every id of a Hugging Face tokenizer except its special tokens and
    the whole strings added as single tokens (the judge prompt's fixed parts)."""
    reserved = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    return [i for i in range(len(tokenizer)) if i not in reserved]


def copy_batch(generator, token_ids, batch_size: int, span: int):
    """Input ids of `batch_size` rows, each a run of `span` random tokens from `token_ids` shown twice."""
    import torch

    pool = torch.as_tensor(token_ids)
    first = pool[torch.randint(len(pool), (batch_size, span), generator=generator)]
    return torch.cat([first, first], dim=1)


def _repeat_loss(model, ids, span: int):
    """Mean cross-entropy of the repeat's tokens after its first (that one is not predictable from the run)."""
    import torch

    logits = model(input_ids=ids, logits_to_keep=span).logits[:, :-1]  # positions span .. 2*span-2
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, span + 1:].reshape(-1))


def copy_loss(model, token_ids, *, batch_size: int = 32, span: int = 24, seed: int = 0) -> float:
    """The model's mean cross-entropy on the repeated half of fresh random runs (nats; log(vocab) means it does
    not copy, near 0 means it does)."""
    import torch

    ids = copy_batch(torch.Generator().manual_seed(seed), token_ids, batch_size, span)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float(_repeat_loss(model, ids, span))
    finally:
        model.train(was_training)


def pretrain_copying(model, token_ids, *, steps: int, batch_size: int = 16, span: int = 24,
                     learning_rate: float = 1e-3, seed: int = 0, log=None, log_every: int = 100) -> dict:
    """Train a freshly initialised causal LM for `steps` steps to continue a repeated run of random tokens.

    A real base model arrives able to copy: pre-training on text grows attention heads that find the earlier
    occurrence of the current token and predict what followed it (induction heads). A randomly initialised tiny
    model has none, and learns them during distillation only slowly; yet the judge's trace leans on copying (its
    quotes and the numbers it restates). A few hundred steps on random repeated runs grow those heads first.
    Nothing of the judging task is seen here: the runs are uniform random tokens from `token_ids`.

    Returns {"steps", "batch_size", "span", "learning_rate", "loss_first", "loss_last"}; the model is changed in
    place and left in eval mode. Deterministic for a seed on one machine.
    """
    import time

    import torch

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"copy pre-training: steps must be a non-negative integer, got {steps!r}")
    if len(token_ids) < 2:
        raise ConfigError("copy pre-training needs at least two ordinary tokens to draw runs from")
    record = {"steps": steps, "batch_size": batch_size, "span": span, "learning_rate": learning_rate}
    if steps == 0:
        return record
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    model.train()
    started = time.time()
    losses = []
    for step in range(1, steps + 1):
        loss = _repeat_loss(model, copy_batch(generator, token_ids, batch_size, span), span)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if log is not None and (step % log_every == 0 or step == steps):
            rate = step / max(time.time() - started, 1e-9)
            log(f"copy pre-training step {step}/{steps}, {rate:.1f} steps/s, loss {losses[-1]:.3f}")
    model.eval()
    record.update(loss_first=round(losses[0], 4), loss_last=round(losses[-1], 4))
    return record


def build_tiny_model(out_dir, corpus: list[str], *, vocab_size: int = 2048, hidden_size: int = 128,
                     num_layers: int = 2, num_heads: int = 4, num_kv_heads: int = 2, intermediate_size: int = 256,
                     max_positions: int = 4096, seed: int = 0, added_tokens: Sequence[str] = (),
                     copy_steps: int = 0, log=None) -> Path:
    """Build a random Qwen2ForCausalLM + trained byte-level BPE tokenizer into `out_dir` (atomic, offline).

    `added_tokens`: whole strings that get one token each (for example ``prompts.fixed_texts()``), so the
    judge prompt's fixed text costs a handful of tokens instead of hundreds; the text itself is unchanged.
    `copy_steps`: steps of copy pre-training (`pretrain_copying`) before the folder is written (0: the weights
    stay as initialised); `log` receives its progress lines."""
    texts = _check_args(corpus, vocab_size, hidden_size, num_layers, num_heads, num_kv_heads,
                        intermediate_size, max_positions, seed, copy_steps)
    import tokenizers
    import torch
    import transformers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out_dir = Path(out_dir).expanduser().resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"build_tiny_model: {out_dir} exists and is not a folder")

    added = _check_added(added_tokens)
    tok = _train_tokenizer(texts, vocab_size, added)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN,
                                   unk_token=None, bos_token=None, chat_template=CHATML_TEMPLATE,
                                   model_max_length=max_positions, clean_up_tokenization_spaces=False)
    special_ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}

    config = Qwen2Config(
        vocab_size=tok.get_vocab_size(), hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_positions, tie_word_embeddings=True, use_sliding_window=False,
        bos_token_id=None, eos_token_id=special_ids[EOS_TOKEN], pad_token_id=special_ids[PAD_TOKEN],
    )
    with torch.random.fork_rng(devices=[]):  # seed locally: the caller's RNG state is left as it was
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = special_ids[EOS_TOKEN]
    model.generation_config.pad_token_id = special_ids[PAD_TOKEN]
    model.generation_config.bos_token_id = None
    copying = pretrain_copying(model, ordinary_token_ids(fast), steps=copy_steps, seed=seed, log=log)

    info = {
        "format": 1,
        "builder": "rmr1lib.tinymodel.build_tiny_model",
        "seed": seed,
        "vocab_size_requested": vocab_size,
        "vocab_size": tok.get_vocab_size(),
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "num_heads": num_heads,
        "num_kv_heads": num_kv_heads,
        "head_dim": hidden_size // num_heads,
        "intermediate_size": intermediate_size,
        "max_positions": max_positions,
        "tie_word_embeddings": True,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "special_tokens": special_ids,
        "eos_token": EOS_TOKEN,
        "pad_token": PAD_TOKEN,
        "added_tokens": len(added),
        "corpus_texts": len(texts),
        "corpus_sha256": _corpus_sha256(texts),
        "copy_pretraining": copying,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__},
    }

    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        fast.save_pretrained(tmp)
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _check_reload(tmp, fast, texts[:20] + added + ["".join(added[:3]) + " tail"])
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _replace_dir(new: Path, target: Path) -> None:
    """Move the finished folder `new` to `target`, replacing an older build there."""
    if not target.exists():
        os.replace(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, old / "previous")
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old / "previous", target)  # put the previous build back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def read_tiny_model_info(model_dir) -> dict:
    """The build parameters recorded next to a tiny model (rmr1_tiny.json); DataError if absent or invalid."""
    path = Path(model_dir) / INFO_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path} not found: {model_dir} was not made by build_tiny_model") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc})") from None
