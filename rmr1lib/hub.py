"""Model location: local folders first; GGUF files converted once into a folder; the Hugging Face hub only when the
profile allows it.

    resolve_model   a folder every engine can load, for any model source of rmr1lib.sources: a local folder as it
                    is, a hub id (its cached snapshot when the hub is offline), or a GGUF file (gguf:FILE,
                    gguf:PACKAGE/FILE, pkg:PACKAGE) converted once into a model folder
    convert_gguf    that conversion: transformers reads the GGUF file (dequantising it to the profile's dtype) and
                    writes a normal model folder atomically, with the file's origin (package, version, file name,
                    SHA-256) in rmr1_origin.json; a folder already converted from the same bytes is reused
    model_origin    the recorded origin of a converted folder

Nothing in the smoke path touches the hub. Code that would download fails fast offline with a message that
says what to do, instead of hanging on a network that is not there.

Engine layer: transformers (and, through it, the gguf package) is imported inside convert_gguf only.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Optional, Union

from .errors import ConfigError, OfflineError
from .files import atomic_path, atomic_write_json, file_sha256
from .sources import GGUF_PREFIX, PACKAGE_PREFIX, ModelSource, parse_model_source

ORIGIN_FILE = "rmr1_origin.json"
CACHE_ENV = "RMR1_MODEL_CACHE"
PathLike = Union[str, os.PathLike]


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) asks for no network."""
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def resolve_model(name_or_path: str, *, convert_to: Optional[PathLike] = None) -> str:
    """A loadable location for a model: a local folder, a cached hub snapshot, (online) the hub name, or the folder a
    GGUF source was converted into (`convert_to`, default: a folder in the user's model cache, see `default_cache`)."""
    if name_or_path == "tiny":
        raise ConfigError("model 'tiny' is built by the workbook into its run (rmr1lib.workbook.base_model_path); "
                          "pass the run's tiny_model folder instead")
    try:
        source = parse_model_source(name_or_path)
    except ConfigError as exc:
        if str(name_or_path).startswith((GGUF_PREFIX, PACKAGE_PREFIX)):
            raise
        raise OfflineError(str(exc)) from None  # a model that is not here: what the callers have always caught
    if source.kind == "folder":
        if not (Path(source.location) / "config.json").exists():
            raise OfflineError(f"{source.location} is a folder but holds no config.json: not a Hugging Face model "
                               "folder")
        return source.location
    if source.kind == "gguf":
        return str(convert_gguf(source, convert_to or default_cache(source)))
    if not hub_offline():
        return name_or_path
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name_or_path, local_files_only=True)
    except Exception:  # any miss in the local cache means the same thing to the user
        raise OfflineError(
            f"model {name_or_path!r} is not on this machine and the hub is offline (HF_HUB_OFFLINE=1). "
            f"On a machine with network run `huggingface-cli download {name_or_path} --local-dir DIR`, copy DIR "
            "here and set model.name_or_path to DIR in your profile (or unset HF_HUB_OFFLINE to download)."
        ) from None


def cached_hub_model(hub_id: str) -> Optional[str]:
    """The local snapshot of a hub model if this machine's hub cache has one, else None (never downloads)."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(hub_id, local_files_only=True)
    except Exception:  # not cached (or the hub library cannot tell): the same answer
        return None


# ----------------------------------------------------------------------------------------------------------
# GGUF sources


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def gguf_sha256(source: ModelSource) -> str:
    """SHA-256 of a GGUF source's file (computed once per process for an unchanged file)."""
    stat = os.stat(source.location)
    return _sha256(source.location, stat.st_size, stat.st_mtime_ns)


def default_cache(source: ModelSource) -> Path:
    """Where a GGUF source is converted when no folder is given: $RMR1_MODEL_CACHE (default ~/.cache/rmr1lib/models),
    one folder per file content."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rmr1lib" / "models").expanduser()
    stem = Path(source.location).name.removesuffix(".gguf")
    return root / f"{stem}-{gguf_sha256(source)[:12]}"


def model_origin(folder: PathLike) -> Optional[dict]:
    """The origin recorded in a folder converted from a GGUF file (None for any other folder)."""
    path = Path(folder) / ORIGIN_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _end_of_turn_fixes(tokenizer, model) -> dict:
    """Make the tokenizer's EOS and padding tokens the model's own (a GGUF file may name the wrong ones).

    The GGUF metadata of SmolLM2-135M-Instruct gives the tokenizer <|im_start|> as its EOS, while the model's
    generation config ends a turn with <|im_end|>. Trainers read the EOS from the tokenizer (TRL's GRPO marks where
    a completion ends with it), so the tokenizer must name the token the model really stops on.
    """
    fixes = {}
    eos = model.generation_config.eos_token_id
    eos = eos[0] if isinstance(eos, (list, tuple)) and eos else eos
    if isinstance(eos, int) and tokenizer.eos_token_id != eos:
        fixes["eos_token"] = [tokenizer.eos_token, tokenizer.convert_ids_to_tokens(eos)]
        tokenizer.eos_token = tokenizer.convert_ids_to_tokens(eos)
    pad = model.generation_config.pad_token_id
    if tokenizer.pad_token_id is None and isinstance(pad, int):
        fixes["pad_token"] = [None, tokenizer.convert_ids_to_tokens(pad)]
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(pad)
    if getattr(tokenizer, "clean_up_tokenization_spaces", False):  # transformers ignores it for BPE, with a warning
        fixes["clean_up_tokenization_spaces"] = [True, False]
        tokenizer.clean_up_tokenization_spaces = False
    return fixes


def convert_gguf(source: Union[str, ModelSource], out_dir: PathLike, *, dtype: str = "float32") -> Path:
    """Convert a GGUF model source into a model folder at `out_dir`, once: a folder already converted from the same
    file (same SHA-256) is reused. The folder appears complete or not at all (atomic rename)."""
    if isinstance(source, str):
        source = parse_model_source(source)
    if source.kind != "gguf":
        raise ConfigError(f"convert_gguf: {source.spec!r} is not a GGUF source (gguf:FILE, gguf:PACKAGE/FILE, "
                          "pkg:PACKAGE)")
    out = Path(out_dir)
    sha = gguf_sha256(source)
    done = model_origin(out)
    if done is not None and done.get("sha256") == sha and (out / "config.json").is_file():
        return out
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .engine import quiet_hf_progress, torch_dtype

    folder, name = str(Path(source.location).parent), Path(source.location).name
    started = time.time()
    try:
        with quiet_hf_progress():
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch_dtype(dtype))
    except ImportError as exc:
        raise ConfigError(f"reading GGUF file {source.location} needs the `gguf` package ({exc}); it is in the "
                          "workbook's lock: run `make venv`") from None
    fixes = _end_of_turn_fixes(tokenizer, model)
    origin = {**source.origin(), "sha256": sha, "bytes": os.path.getsize(source.location), "dtype": dtype,
              "parameters": sum(p.numel() for p in model.parameters()), "architecture": type(model).__name__,
              "tokenizer_fixes": fixes, "converted_with": {"transformers": transformers.__version__,
                                                          "torch": torch.__version__},
              "convert_seconds": None}
    with atomic_path(out) as tmp:
        with quiet_hf_progress():
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        origin["convert_seconds"] = round(time.time() - started, 1)
        atomic_write_json(Path(tmp) / ORIGIN_FILE, origin)
    return out
