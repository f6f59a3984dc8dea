"""Model location: local folders first; the Hugging Face hub only when the profile allows it.

Nothing in the smoke path touches the hub. Code that would download fails fast offline with a message that
says what to do, instead of hanging on a network that is not there.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import OfflineError


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) asks for no network."""
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def resolve_model(name_or_path: str) -> str:
    """A loadable location for a model: a local folder, a cached hub snapshot, or (online) the hub name."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise OfflineError(f"{path} is a folder but holds no config.json: not a Hugging Face model folder")
        return str(path)
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") != 1:
        raise OfflineError(f"model {name_or_path!r}: no such local folder, and not a hub name of the form owner/name")
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
