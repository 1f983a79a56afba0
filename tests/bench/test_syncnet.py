"""SyncNet as in syncnet_python: layout and loading with a seeded random model, MFCC by hand, LSE on real footage.

The published weights cannot be downloaded here, so every test uses a randomly initialised SyncNet saved
to a temporary file; the numbers it gives on real footage are meaningless, only their shape and range are
checked.
"""
import math
import time

import numpy as np
import pytest
import torch

from talkset.audio.io import load_audio
from talkset.bench.syncnet import (
    SyncNet,
    SyncNetLoadError,
    _mean_distances,
    load_syncnet,
    lse,
    mel_filterbank,
    mfcc,
    resample_indices,
    to_pcm16_scale,
)

# Indices of the weighted layers inside syncnet_python's SyncNetModel.S Sequentials (ReLU and pooling
# layers take the other indices).
CNN_CONV_BN = [(0, 1), (4, 5), (8, 9), (11, 12), (14, 15), (18, 19)]  # same in netcnnaud and netcnnlip
FC_LINEAR, FC_BN = [0, 3], [1]


def _expected_keys() -> set[str]:
    keys = set()
    for net in ("netcnnaud", "netcnnlip"):
        for conv, bn in CNN_CONV_BN:
            keys |= {f"{net}.{conv}.weight", f"{net}.{conv}.bias"}
            keys |= {f"{net}.{bn}.{p}" for p in ("weight", "bias", "running_mean", "running_var",
                                                  "num_batches_tracked")}
    for net in ("netfcaud", "netfclip"):
        keys |= {f"{net}.{i}.{p}" for i in FC_LINEAR for p in ("weight", "bias")}
        keys |= {f"{net}.{i}.{p}" for i in FC_BN for p in ("weight", "bias", "running_mean", "running_var",
                                                           "num_batches_tracked")}
    return keys


@pytest.fixture(scope="module")
def random_model_file(tmp_path_factory):
    torch.manual_seed(0)
    model = SyncNet()
    path = tmp_path_factory.mktemp("syncnet") / "syncnet_random.model"
    torch.save(model.state_dict(), path)
    return path, model


def test_state_dict_keys_and_shapes_are_syncnet_pythons(random_model_file):
    path, original = random_model_file
    sd = original.state_dict()
    assert set(sd) == _expected_keys()
    assert len(sd) == 102  # 12 convolutions and 4 linears x 2 tensors + 14 batch norms x 5
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert shapes["netcnnaud.0.weight"] == (64, 1, 3, 3)
    assert shapes["netcnnaud.18.weight"] == (512, 256, 5, 4)
    assert shapes["netcnnlip.0.weight"] == (96, 3, 5, 7, 7)
    assert shapes["netcnnlip.18.weight"] == (512, 256, 1, 6, 6)
    assert shapes["netfcaud.0.weight"] == shapes["netfclip.0.weight"] == (512, 512)
    assert shapes["netfcaud.3.weight"] == shapes["netfclip.3.weight"] == (1024, 512)
    n_params = sum(p.numel() for p in original.parameters())
    assert 13_000_000 < n_params < 14_000_000  # the published syncnet_v2.model is about 52 MB of float32

    loaded = load_syncnet(path)
    assert not loaded.training
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_embedding_shapes(random_model_file):
    _, model = random_model_file
    model.eval()
    with torch.inference_mode():
        aud = model.forward_aud(torch.randn(2, 1, 13, 20))
        lip = model.forward_lip(torch.rand(2, 3, 5, 224, 224) * 255)
        feat = model.forward_lipfeat(torch.rand(1, 3, 5, 224, 224) * 255)
    assert aud.shape == (2, 1024) and lip.shape == (2, 1024) and feat.shape == (1, 512)
    assert torch.isfinite(aud).all() and torch.isfinite(lip).all()


def test_loads_pre_0_4_1_files_and_wrapped_state_dicts(random_model_file, tmp_path):
    _, model = random_model_file
    sd = model.state_dict()
    old = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}  # as saved before PyTorch 0.4.1
    torch.save(old, tmp_path / "old.model")
    torch.save({"state_dict": {"__S__." + k: v for k, v in sd.items()}}, tmp_path / "wrapped.model")
    for name in ("old.model", "wrapped.model"):
        loaded = load_syncnet(tmp_path / name).state_dict()
        assert torch.equal(loaded["netfclip.3.weight"], sd["netfclip.3.weight"])
        assert torch.equal(loaded["netcnnlip.1.running_var"], sd["netcnnlip.1.running_var"])


def test_wrong_architecture_gives_one_line_error_naming_the_file(tmp_path):
    small = tmp_path / "small_embedding.model"
    torch.save(SyncNet(num_layers_in_fc_layers=256).state_dict(), small)
    other = tmp_path / "not_syncnet.model"
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 4)).state_dict(), other)
    for path, words in ((small, "shape mismatch"), (other, "missing keys")):
        with pytest.raises(SyncNetLoadError) as e:
            load_syncnet(path)
        msg = str(e.value)
        assert "\n" not in msg and str(path) in msg and words in msg


def test_pickled_objects_and_junk_are_refused_without_unpickling(tmp_path):
    full = tmp_path / "full_model.model"
    torch.save(SyncNet(num_layers_in_fc_layers=8), full)  # a pickled module: loading it would run code
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"not a torch file at all")
    for path in (full, junk, tmp_path / "absent.model"):
        with pytest.raises(SyncNetLoadError) as e:
            load_syncnet(path)
        assert "\n" not in str(e.value) and str(path) in str(e.value)


# --- MFCC ------------------------------------------------------------------------------------------------


def test_first_mel_filter_by_hand():
    # hz_to_mel(8000) = 2840.02; 28 mel points 105.19 apart -> 0, 68.5, 143.7 Hz -> bins floor(513 f / 16000)
    # = 0, 2, 4: the first filter rises over bins 0-2 and falls to 0 at bin 4.
    fb = mel_filterbank()
    assert fb.shape == (26, 257)
    np.testing.assert_allclose(fb[0, :6], [0, 0.5, 1, 0.5, 0, 0])
    assert fb[:, 256].sum() == 0  # the top edge is bin 256 itself, which no filter reaches


def test_mfcc_of_an_impulse_by_hand():
    # 800 samples -> 1 + ceil((800 - 400) / 160) = 4 frames starting at 0, 160, 320, 480 (the last zero-padded).
    # An impulse of height A at sample 559 is the last sample of frame 1; pre-emphasis adds -0.97 A at 560,
    # which frames 2 and 3 hold together with the impulse.
    a = 1000.0
    x = np.zeros(800)
    x[559] = a
    c = mfcc(x)
    assert c.shape == (4, 13)
    eps = np.finfo(float).eps
    # Frame 0 is silent: every log energy is log(eps), a constant whose DCT has only a 0th term.
    np.testing.assert_allclose(c[0], [np.log(eps)] + [0.0] * 12, atol=1e-9)
    # Frame 1: |X_k|^2 = A^2 at all 257 bins, power = A^2 / 512 each.
    assert c[1, 0] == pytest.approx(np.log(257 * a**2 / 512), rel=1e-12)
    # Frames 2 and 3: |X_k|^2 = A^2 (1 + 0.97^2 - 1.94 cos(2 pi k / 512)); the cosines cancel over k = 0..256.
    assert c[2, 0] == pytest.approx(np.log(257 * (1 + 0.97**2) * a**2 / 512), rel=1e-12)
    np.testing.assert_allclose(c[3], c[2], rtol=1e-9)  # same two samples, other place in the frame


def _reference_mfcc(x: np.ndarray, sr: int = 16000) -> np.ndarray:
    """python_speech_features.mfcc written out plainly: explicit DFT and DCT sums, one frame at a time."""
    flen, step, nfft, numcep, L = 400, 160, 512, 13, 22
    y = np.concatenate([[x[0]], x[1:] - 0.97 * x[:-1]])
    n = 1 + math.ceil((len(y) - flen) / step)
    y = np.concatenate([y, np.zeros((n - 1) * step + flen - len(y))])
    fb = mel_filterbank(26, nfft, sr)
    k = np.arange(nfft // 2 + 1)[:, None]
    m = np.arange(flen)[None, :]
    dft = np.exp(-2j * np.pi * k * m / nfft)  # frame zero-padded to nfft: only its flen samples contribute
    out = []
    for f in range(n):
        frame = y[f * step:f * step + flen]
        power = np.abs(dft @ frame) ** 2 / nfft
        logfb = np.log(np.maximum(fb @ power, np.finfo(float).eps))
        nn_ = len(logfb)
        cep = [math.sqrt((1 if q == 0 else 2) / nn_) * sum(logfb[j] * math.cos(math.pi * q * (2 * j + 1) / (2 * nn_))
                                                           for j in range(nn_)) for q in range(numcep)]
        cep = [c * (1 + L / 2 * math.sin(math.pi * q / L)) for q, c in enumerate(cep)]
        cep[0] = math.log(power.sum())
        out.append(cep)
    return np.array(out)


def test_mfcc_matches_the_plain_reference_on_a_chirp():
    sr = 16000
    t = np.arange(int(0.1 * sr) + 37) / sr  # a length that needs end padding
    rng = np.random.default_rng(0)
    x = to_pcm16_scale(0.3 * np.sin(2 * np.pi * (200 + 3000 * t) * t) + 0.01 * rng.standard_normal(len(t)))
    ours = mfcc(x, sr)
    assert ours.shape == (1 + math.ceil((len(x) - 400) / 160), 13)  # 10 ms steps: 100 per second
    np.testing.assert_allclose(ours, _reference_mfcc(x, sr), rtol=1e-9, atol=1e-9)


def test_pcm16_scale_is_ffmpegs():
    np.testing.assert_array_equal(to_pcm16_scale(np.array([0.0, 0.5, -1.0, 1.0, 1e-5])), [0, 16384, -32768, 32767, 0])


# --- time grid and offsets -------------------------------------------------------------------------------


def test_resampling_to_25_fps_takes_the_nearest_frame():
    np.testing.assert_array_equal(resample_indices(np.arange(50) / 25), np.arange(50))
    idx = resample_indices(np.arange(30) / 30)  # 1 s at 30 fps
    assert len(idx) == 25
    np.testing.assert_array_equal(idx[:6], [0, 1, 2, 4, 5, 6])  # slot j at frame round(1.2 j)
    # Variable frame rate: the last frame lasts as long as the interval before it (0.18 s), to 0.48 s.
    np.testing.assert_array_equal(resample_indices(np.array([0.0, 0.1, 0.12, 0.3])),
                                  [0, 0, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3])


@pytest.mark.parametrize("audio_lag", [0, 3, -4])
def test_offset_sign_follows_syncnet_python(audio_lag):
    # Audio embeddings equal to the video's shifted by audio_lag frames: the sound of frame i sits at i + lag.
    rng = np.random.default_rng(1)
    base = torch.from_numpy(rng.standard_normal((80, 16)).astype(np.float32))
    im = base[20:60]
    cc = base[20 - audio_lag:60 - audio_lag]
    mdist = _mean_distances(im, cc, vshift=15)
    assert mdist.shape == (31,)
    offset = 15 - int(torch.argmin(mdist))
    assert offset == -audio_lag  # negative: the audio lags the video


# --- real footage ----------------------------------------------------------------------------------------


@pytest.mark.filterwarnings(r"ignore:SymbolDatabase\.GetPrototype\(\) is deprecated:UserWarning")  # mediapipe's
def test_lse_on_real_vfr_footage(media, random_model_file):
    path, _ = random_model_file
    model = load_syncnet(path)
    video = media / "generated" / "real_man_suit_700_vfr.mp4"  # VFR, 30 fps nominal, 6.13 s
    audio = load_audio(video)
    t0 = time.perf_counter()
    r = lse(video, audio, model)
    elapsed = time.perf_counter() - t0
    assert set(r) == {"lse_d", "lse_c", "offset_frames", "n_windows"}
    assert math.isfinite(r["lse_d"]) and math.isfinite(r["lse_c"])
    assert r["lse_d"] >= 0 and r["lse_c"] >= 0  # min <= median by construction
    assert -15 <= r["offset_frames"] <= 15
    assert 140 <= r["n_windows"] <= 150  # about 6.1 s x 25 fps, minus the 5-frame window
    assert elapsed < 60, f"{elapsed:.1f} s"

    # A plain array is taken to start with the first frame; max_windows bounds the work.
    short = lse(video, audio.samples, model, max_windows=12)
    assert short["n_windows"] == 12 and math.isfinite(short["lse_d"])
