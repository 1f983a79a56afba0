"""wav2vec2 audio embeddings as V-Express and TalkVid train on (``aud_embeds.pt``).

Both projects' extractors (V-Express ``scripts/prepare_dataset/extract_audio_embeddings.py``, TalkVid
``src/data_preprocess/scripts/data_process/extract_audio_emb.py``) take the clip's audio as 16 kHz mono,
normalise it with the checkpoint's feature extractor (zero mean, unit variance for wav2vec2-base-960h), run
``Wav2Vec2Model`` and keep ``last_hidden_state`` (1, n, 768), permuted to (n, 1, 768): about 50 vectors a
second. They save ``{"global_embeds": tensor}`` with ``torch.save``; their dataset interpolates the sequence
to two vectors per video frame. The weights are never downloaded here: the user gives a local copy of
``facebook/wav2vec2-base-960h`` (a folder with ``config.json``, the weights and ``preprocessor_config.json``).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from talkset.errors import TalksetError

if TYPE_CHECKING:
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

log = logging.getLogger("talkset.export")

SAMPLE_RATE = 16000
HIDDEN = 768  # what V-Express's AudioProjection takes (inp_dim)
PIP_HINT = "pip install 'talkset[export]'"


class EmbedderError(TalksetError):
    """A model folder that cannot be used; one line naming the folder and why."""


class Wav2Vec2Embedder:
    """``samples`` (16 kHz mono float32) → float32 tensor (n, 1, hidden), on the CPU.

    The model loads on first use (``setup``), so the object is cheap to make and to pass around.

    Args:
        model_dir: a local folder as ``Wav2Vec2Model.save_pretrained`` writes it (``config.json`` and weights);
            ``preprocessor_config.json`` beside them sets the normalisation (wav2vec2's defaults without it).
        expect_hidden: the embedding size required (768 for V-Express); None accepts any.
    """

    def __init__(self, model_dir: str | Path, expect_hidden: int | None = HIDDEN):
        self.model_dir = Path(model_dir)
        self.expect_hidden = expect_hidden
        self._model: Wav2Vec2Model | None = None
        self._extractor: Wav2Vec2FeatureExtractor | None = None
        try:
            import transformers  # noqa: F401  (checked here: fail before any clip is written)
        except ImportError:
            raise EmbedderError(f"--wav2vec2 needs the transformers package ({PIP_HINT})") from None
        if not (self.model_dir / "config.json").is_file():
            raise EmbedderError(f"{self.model_dir}: no config.json (expected a local copy of "
                                "facebook/wav2vec2-base-960h)")

    def setup(self) -> None:
        if self._model is not None:
            return
        from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # its notes about unused weights (the CTC head) are expected
        try:
            model = Wav2Vec2Model.from_pretrained(self.model_dir, local_files_only=True)
        except (OSError, ValueError) as e:
            raise EmbedderError(f"{self.model_dir}: cannot load a wav2vec2 model "
                                f"({' '.join(str(e).split())[:200]})") from None
        if self.expect_hidden is not None and model.config.hidden_size != self.expect_hidden:
            raise EmbedderError(f"{self.model_dir}: hidden size {model.config.hidden_size}, expected "
                                f"{self.expect_hidden} (wav2vec2-base-960h)")
        if (self.model_dir / "preprocessor_config.json").is_file():
            extractor = Wav2Vec2FeatureExtractor.from_pretrained(self.model_dir, local_files_only=True)
        else:
            log.info("%s: no preprocessor_config.json; normalising as wav2vec2-base-960h does", self.model_dir)
            extractor = Wav2Vec2FeatureExtractor(sampling_rate=SAMPLE_RATE, do_normalize=True)
        model.eval()
        self._model, self._extractor = model, extractor

    def __call__(self, samples: np.ndarray):
        import torch

        self.setup()
        assert self._model is not None and self._extractor is not None  # setup() loaded both
        wave = np.asarray(samples, np.float32).reshape(-1)
        x = self._extractor(wave, sampling_rate=SAMPLE_RATE, return_tensors="pt")["input_values"]
        with torch.inference_mode():
            hidden = self._model(x).last_hidden_state  # (1, n, hidden)
        return hidden.permute(1, 0, 2).contiguous().float().clone()  # (n, 1, hidden)

