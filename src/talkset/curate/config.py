"""The one curate configuration: defaults in ``talkset/defaults.toml``, overridden by a user's TOML file."""
from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from talkset.errors import TalksetError

CLIP_MODES = ("encode", "fast", "none")


class ConfigError(TalksetError):
    """A configuration file that cannot be used; one line naming the file and why."""


def default_config_text() -> str:
    return resources.files("talkset").joinpath("defaults.toml").read_text()


@dataclass(frozen=True)
class Config:
    """Nested dict view of the TOML, with the defaults filled in; sections are ``segment``, ``analysis``,
    ``output``, ``annotate``, ``thresholds``."""

    data: dict[str, Any] = field(default_factory=lambda: tomllib.loads(default_config_text()))

    @property
    def segment(self) -> dict[str, Any]:
        return self.data["segment"]

    @property
    def analysis(self) -> dict[str, Any]:
        return self.data["analysis"]

    @property
    def output(self) -> dict[str, Any]:
        return self.data["output"]

    @property
    def annotate(self) -> dict[str, Any]:
        return self.data["annotate"]

    @property
    def thresholds(self) -> dict[str, dict[str, float]]:
        return self.data["thresholds"]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Config:
        """Defaults, overridden by the keys of ``path`` (unknown keys are an error).

        Args:
            path: a TOML file, or None for the defaults.
        """
        data = tomllib.loads(default_config_text())
        if path is None:
            return cls(data)
        path = Path(path)
        try:
            user = tomllib.loads(path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: cannot read config ({e})") from None
        _merge(data, user, path, "")
        if data["output"]["clips"] not in CLIP_MODES:
            raise ConfigError(f"{path}: 'output.clips' must be one of {', '.join(CLIP_MODES)}, "
                              f"got {data['output']['clips']!r}")
        return cls(data)


def _merge(base: dict, override: dict, path: Path, prefix: str) -> None:
    for key, value in override.items():
        name = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(f"{path}: unknown setting '{name}'")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: '{name}' must be a table")
            _merge(base[key], value, path, name + ".")
        elif type(base[key]) is not type(value) and not (isinstance(base[key], float) and isinstance(value, int)):
            raise ConfigError(f"{path}: '{name}' must be {type(base[key]).__name__}, got {value!r}")
        else:
            base[key] = copy.deepcopy(value)
