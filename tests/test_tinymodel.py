"""Tests for rmr1lib.tinymodel: an offline Qwen2 checkpoint that reloads exactly, chats in ChatML, generates."""

import json
import socket
import time
import unicodedata

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from rmr1lib import synthetic  # noqa: E402
from rmr1lib.errors import ConfigError, DataError  # noqa: E402
from rmr1lib.tinymodel import INFO_FILE, build_tiny_model, read_tiny_model_info  # noqa: E402

torch.set_num_threads(1)

CORPUS = [
    "The quick brown fox jumps over the lazy dog. 12 + 30 * 2 = 72.",
    "<type>Chat</type>\n<rubric>\n1. Follows the instructions (40%)\n<justify>why</justify>\n</rubric>",
    "<eval>\n<quote_A>The answer is 42.</quote_A>\n<summary_A>Correct.</summary_A>\n</eval>\n<answer>[[A]]</answer>",
    "<think>\nLet me check both responses.\n</think>\n<answer>[[B]]</answer>",
    "Café, naïve, über, 日本語, مرحبا, emoji 😀 and tabs\tand  spaces",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n",
    "I can't help with that. Would you like more detail on any of these?",
] * 40

# ~50 strings: whitespace, numbers, code, trace tags, chat tags, scripts, emoji, and Unicode that NFC changes
PROBES = [
    "", " ", "hello", "Hello world", "  leading spaces", "trailing spaces   ", "tab\tseparated", "new\nline",
    "windows\r\nline", "many\n\n\nblank lines", "don't won't I'm we'll they've", "DON'T SHOUT", "MiXeD cAsE",
    "12345678901234567890", "3.14159 and -2.5e10", "a+b*c-d", "x == y != z", "snake_case_name", "CamelCaseName",
    "https://example.com/a?b=c&d=e", "user@example.org", "#hashtag @mention", "(brackets) [square] {curly}",
    "<type>Reasoning</type>", "<solution>\nFinal answer: 7\n</solution>", "<answer>[[A]]</answer>",
    "<answer>[[B]]</answer>", "<quote_B>text</quote_B>", "(40%) (35%) (25%)",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>", "text<|im_end|>more",
    "café", "cafe\u0301", "naïve résumé", "über straße", "日本語の文", "中文测试", "한국어", "مرحبا بالعالم",
    "שלום", "αβγ ΔΩ", "Привет мир", "emoji 😀👍🏽", "👨\u200d👩\u200d👧", "• bullet — dash …", "½ ⅓ ² ①",
    "ﬁ ligature", "zero\u200bwidth", "\u00a0non-breaking", "\x00control\x07", "def f(x):\n    return x ** 2\n",
    "    indented code", "‘curly’ “quotes”",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "model"
    start = time.perf_counter()
    path = build_tiny_model(out, CORPUS, vocab_size=512, seed=0)
    return path, time.perf_counter() - start


@pytest.fixture(scope="module")
def loaded(built):
    path, _ = built
    return AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)


def test_folder_contents_and_info(built):
    path, _ = built
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", INFO_FILE):
        assert (path / name).is_file(), name
    info = read_tiny_model_info(path)
    assert info["seed"] == 0 and info["head_dim"] == 32 and info["num_kv_heads"] == 2
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "qwen2" and config["tie_word_embeddings"] is True
    assert config["vocab_size"] == info["vocab_size"] <= 512
    leftovers = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert leftovers == [], "temporary build folders must not be left behind"


def test_read_info_errors(tmp_path):
    with pytest.raises(DataError, match=INFO_FILE):
        read_tiny_model_info(tmp_path)
    (tmp_path / INFO_FILE).write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        read_tiny_model_info(tmp_path)


def test_reload_gives_identical_ids(built, loaded):
    path, _ = built
    tok, _ = loaded
    raw = Tokenizer.from_file(str(path / "tokenizer.json"))
    assert type(tok).__name__ == "Qwen2Tokenizer"
    assert len(PROBES) >= 50
    for text in PROBES:
        ids = tok(text)["input_ids"]
        assert ids == raw.encode(text).ids, text
        assert tok.decode(ids) == unicodedata.normalize("NFC", text), text


def test_special_tokens(built, loaded):
    path, _ = built
    tok, model = loaded
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        assert len(tok(special)["input_ids"]) == 1, special
    assert model.config.eos_token_id == tok.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert model.config.pad_token_id == tok.pad_token_id == tok.convert_tokens_to_ids("<|endoftext|>")
    assert model.generation_config.eos_token_id == tok.eos_token_id


def test_chat_template_is_chatml(loaded):
    tok, _ = loaded
    messages = [{"role": "system", "content": "You judge."}, {"role": "user", "content": "Which is better?"},
                {"role": "assistant", "content": "<answer>[[A]]</answer>"}]
    expected = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    assert tok.apply_chat_template(messages, tokenize=False) == expected
    prompt = tok.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert prompt == expected.split("<|im_start|>assistant")[0] + "<|im_start|>assistant\n"
    no_system = tok.apply_chat_template(messages[1:2], tokenize=False, add_generation_prompt=True)
    assert no_system == "<|im_start|>user\nWhich is better?<|im_end|>\n<|im_start|>assistant\n"


def test_model_shape_and_generation(loaded):
    tok, model = loaded
    cfg = model.config
    assert cfg.hidden_size // cfg.num_attention_heads >= 32
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    enc = tok.apply_chat_template([{"role": "user", "content": "2 + 2?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    n_in = enc["input_ids"].shape[1]
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    assert out.shape == (1, n_in + 6)
    assert int(out.max()) < cfg.vocab_size
    assert isinstance(tok.decode(out[0, n_in:]), str)


def test_same_seed_same_weights_other_seed_differs(built, tmp_path):
    path, _ = built
    again = build_tiny_model(tmp_path / "again", CORPUS, vocab_size=512, seed=0)
    other = build_tiny_model(tmp_path / "other", CORPUS, vocab_size=512, seed=1)
    w0, w1, w2 = (load_file(str(p / "model.safetensors")) for p in (path, again, other))
    assert w0.keys() == w1.keys() == w2.keys()
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert not all(torch.equal(w0[k], w2[k]) for k in w0 if w0[k].numel() > 1 and "norm" not in k)
    assert (path / "tokenizer.json").read_text() == (again / "tokenizer.json").read_text()
    assert (path / "tokenizer.json").read_text() == (other / "tokenizer.json").read_text()
    assert read_tiny_model_info(other)["seed"] == 1


def test_rebuild_replaces_previous_build(tmp_path):
    out = tmp_path / "m"
    build_tiny_model(out, CORPUS[:7], vocab_size=300, seed=0)
    (out / "stale.txt").write_text("old")
    build_tiny_model(out, CORPUS[:7], vocab_size=300, seed=2)
    assert not (out / "stale.txt").exists()
    assert read_tiny_model_info(out)["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_callers_rng_is_untouched(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_model(tmp_path / "m", CORPUS[:7], vocab_size=300, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_build_never_touches_the_network(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access during build_tiny_model")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    path = build_tiny_model(tmp_path / "m", CORPUS[:7], vocab_size=300, seed=0)
    AutoModelForCausalLM.from_pretrained(path)
    AutoTokenizer.from_pretrained(path)


@pytest.mark.parametrize("kwargs,error,needle", [
    ({"hidden_size": 64}, ConfigError, "head size"),
    ({"num_heads": 3}, ConfigError, "divisible"),
    ({"num_kv_heads": 3}, ConfigError, "num_kv_heads"),
    ({"vocab_size": 100}, ConfigError, "vocab_size"),
    ({"num_layers": 0}, ConfigError, "num_layers"),
    ({"seed": 1.5}, ConfigError, "seed"),
    ({"corpus": []}, DataError, "empty"),
    ({"corpus": ["  ", ""]}, DataError, "empty"),
    ({"corpus": "just one string"}, DataError, "list of strings"),
    ({"corpus": ["ok", 3]}, DataError, "item 1"),
])
def test_bad_arguments(tmp_path, kwargs, error, needle):
    args = {"corpus": CORPUS[:7], **kwargs}
    corpus = args.pop("corpus")
    with pytest.raises(error, match=needle):
        build_tiny_model(tmp_path / "m", corpus, **args)
    assert not (tmp_path / "m").exists()


def test_builds_from_synthetic_corpus_quickly(tmp_path):
    rows = synthetic.make_pairs(24, seed=0)
    corpus = synthetic.corpus_for_tokenizer(rows)
    start = time.perf_counter()
    path = build_tiny_model(tmp_path / "m", corpus, seed=0)
    seconds = time.perf_counter() - start
    assert seconds < 15, f"tiny model build took {seconds:.1f} s"
    tok = AutoTokenizer.from_pretrained(path)
    trace = synthetic.oracle_trace(rows[0])
    ids = tok(trace)["input_ids"]
    assert len(ids) < len(trace.encode("utf-8")) / 2, "BPE should compress the judge traces it was trained on"
    assert tok.decode(ids) == trace


def test_build_time(built):
    _, seconds = built
    assert seconds < 15, f"tiny model build took {seconds:.1f} s"


def test_added_tokens_make_the_fixed_prompt_parts_one_token_each(tmp_path):
    from rmr1lib.prompts import build_messages, fixed_texts

    rows = synthetic.make_pairs(24, seed=0)
    corpus = synthetic.corpus_for_tokenizer(rows)
    plain = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "plain", corpus, seed=0))
    path = build_tiny_model(tmp_path / "added", corpus, seed=0, added_tokens=fixed_texts())
    tok = AutoTokenizer.from_pretrained(path)
    assert read_tiny_model_info(path)["added_tokens"] == len(fixed_texts())
    for text in fixed_texts():
        assert len(tok(text, add_special_tokens=False)["input_ids"]) == 1, text
    messages = rows[0]["context_messages"]
    rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tok(rendered, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == rendered  # nothing lost or changed by the added tokens
    assert len(ids) < len(plain(rendered, add_special_tokens=False)["input_ids"]) / 3
    # the added tokens are ordinary text, not special tokens: decoding never drops them
    assert "<answer>" in tok.decode(tok("<answer>[[A]]</answer>")["input_ids"], skip_special_tokens=True)
    with pytest.raises(DataError, match="added_tokens"):
        build_tiny_model(tmp_path / "bad", corpus, seed=0, added_tokens="<answer>")


# --------------------------------------------------------------------------------------------------------------
# copy pre-training


def _ordinary_ids(path):
    from rmr1lib.tinymodel import ordinary_token_ids

    return ordinary_token_ids(AutoTokenizer.from_pretrained(path))


def test_copy_pretraining_teaches_the_model_to_copy_and_is_recorded(tmp_path):
    from rmr1lib.tinymodel import copy_loss

    args = dict(vocab_size=512, seed=4, hidden_size=64, num_heads=2, num_kv_heads=1, intermediate_size=128)
    plain = build_tiny_model(tmp_path / "plain", CORPUS, **args)
    lines = []
    copier = build_tiny_model(tmp_path / "copier", CORPUS, copy_steps=250, log=lines.append, **args)
    ids = _ordinary_ids(plain)
    assert ids == _ordinary_ids(copier)
    before = copy_loss(AutoModelForCausalLM.from_pretrained(plain), ids, seed=99)
    after = copy_loss(AutoModelForCausalLM.from_pretrained(copier), ids, seed=99)
    # random weights predict the repeat no better than chance (log of ~500 tokens = 6.2 nats); the trained model
    # continues a run it has never seen
    assert before > 5.0 and after < 1.0, (before, after)
    info = read_tiny_model_info(copier)["copy_pretraining"]
    assert info["steps"] == 250 and info["loss_last"] < info["loss_first"]
    assert read_tiny_model_info(plain)["copy_pretraining"] == {"steps": 0, "batch_size": 16, "span": 24,
                                                               "learning_rate": 1e-3}
    assert lines and lines[-1].startswith("copy pre-training step 250/250")
    # the same seed gives the same weights after copy pre-training (same machine)
    again = build_tiny_model(tmp_path / "again", CORPUS, copy_steps=250, **args)
    w1, w2 = (load_file(str(p / "model.safetensors")) for p in (copier, again))
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_copy_pretraining_rejects_bad_steps_before_any_work(tmp_path, monkeypatch):
    import rmr1lib.tinymodel as tinymodel

    def no_training(*args, **kwargs):
        raise AssertionError("the tokenizer was trained before copy_steps was checked")

    monkeypatch.setattr(tinymodel, "_train_tokenizer", no_training)
    for bad in (-1, 2.5, True, "400"):
        with pytest.raises(ConfigError, match="copy_steps must be a non-negative integer"):
            build_tiny_model(tmp_path / "m", CORPUS[:7], vocab_size=300, seed=0, copy_steps=bad)
    assert not (tmp_path / "m").exists()


def test_ordinary_token_ids_leave_out_special_and_added_tokens(tmp_path):
    from rmr1lib.tinymodel import SPECIAL_TOKENS, ordinary_token_ids

    added = ["<tag>", "a whole phrase of the prompt"]
    tok = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "m", CORPUS[:7], vocab_size=300, seed=0,
                                                         added_tokens=added))
    ids = ordinary_token_ids(tok)
    left_out = {tok.convert_tokens_to_ids(t) for t in list(SPECIAL_TOKENS) + added}
    assert len(left_out) == 5 and not left_out & set(ids)
    assert sorted(set(ids) | left_out) == list(range(len(tok)))
