"""Token counts with a model's own tokenizer: prompt lengths for the length filter (paper §4: prompts longer than
the maximum are filtered out) and per-part counts for inspecting the Chain-of-Rubrics prompt.

A prompt is counted the way the trainers and generators see it: the chat template applied with the generation
prompt, then encoded without extra special tokens (the template already holds them).

Engine layer: imports transformers (inside TokenCounter.from_pretrained only).
"""

from __future__ import annotations

from typing import Any, Sequence


class TokenCounter:
    """Counts tokens of chat prompts and plain texts with one Hugging Face tokenizer."""

    def __init__(self, tokenizer: Any, name: str = ""):
        self.tokenizer = tokenizer
        self.name = name or getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__

    @classmethod
    def from_pretrained(cls, name_or_path: str, trust_remote_code: bool = False) -> "TokenCounter":
        """Load the tokenizer of a local model folder (or a cached hub model) with AutoTokenizer."""
        from transformers import AutoTokenizer

        from .hub import resolve_model

        path = resolve_model(name_or_path)
        return cls(AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code), name=str(name_or_path))

    def prompts(self, conversations: Sequence[Sequence[dict]], batch_size: int = 512) -> list[int]:
        """Tokens of each conversation as a prompt: chat template + generation prompt."""
        texts = [self.tokenizer.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True)
                 for c in conversations]
        return self.texts(texts, batch_size=batch_size)

    def texts(self, texts: Sequence[str], batch_size: int = 512) -> list[int]:
        """Tokens of each plain text (no special tokens added)."""
        return [len(ids) for ids in self.ids(texts, batch_size=batch_size)]

    def ids(self, texts: Sequence[str], batch_size: int = 512) -> list[list[int]]:
        """Token ids of each plain text (no special tokens added)."""
        out: list[list[int]] = []
        for start in range(0, len(texts), batch_size):
            out += self.tokenizer(list(texts[start:start + batch_size]), add_special_tokens=False)["input_ids"]
        return out

    def token_set(self, texts: Sequence[str]) -> frozenset:
        """Every token id that occurs in `texts`."""
        if isinstance(texts, str):
            raise TypeError("TokenCounter.token_set: pass a list of texts, not a single string")
        return frozenset(t for ids in self.ids(list(texts)) for t in ids)

    def unseen(self, seen_texts, texts: Sequence[str], top: int = 8) -> dict:
        """How many tokens of `texts` never occur in `seen_texts` (say, a judge's training data; or the token ids
        `token_set` gave for them, to count several sets against the same data): a model trained from scratch on
        `seen_texts` has never updated those tokens' embeddings in any context.

        Returns the token count, the unseen count and share, and the `top` most frequent unseen tokens as text."""
        from collections import Counter

        if isinstance(seen_texts, str) or isinstance(texts, str):
            raise TypeError("TokenCounter.unseen: pass lists of texts, not a single string")
        seen = seen_texts if isinstance(seen_texts, (set, frozenset)) else self.token_set(seen_texts)
        missing: Counter = Counter()
        total = 0
        for ids in self.ids(list(texts)):
            total += len(ids)
            missing.update(t for t in ids if t not in seen)
        unseen = sum(missing.values())
        return {"texts": len(texts), "tokens": total, "unseen": unseen,
                "unseen_share": unseen / total if total else 0.0,
                "top_unseen": [(self.tokenizer.decode([t]), n) for t, n in missing.most_common(top)]}

    def __repr__(self) -> str:
        return f"TokenCounter({self.name!r})"
