"""Runs TalkVid's own training dataset class, unmodified, over a `talkset export --format vexpress` folder.

The class (FreedomIntelligence/TalkVid ``src/dataset/talking_face_video.py``) needs torchvision's
``io.read_video``, which newer torchvision releases dropped and which does not import beside talkset's torch
2.13: run this script with a separate Python that has TalkVid's pins, e.g.::

    python3.11 -m venv /tmp/tvvenv
    /tmp/tvvenv/bin/pip install torch==2.4.0 torchvision==0.19.0 'numpy<2' 'av<13' opencv-python-headless==4.10.0.84
    /tmp/tvvenv/bin/python benchmarks/talkvid_loader.py --talkvid-src TALKVID/src --index EXPORT/vexpress.json

``--talkvid-src`` is the ``src`` folder of a TalkVid checkout (the script imports ``dataset.talking_face_video``
from it as its train.py does). The working directory is switched to a fresh temporary folder first, so
relative paths in the JSON would fail. Each index is loaded ``--draws`` times (the class draws frames at
random and moves to the next clip when one is too short for a reference frame); prints one line per draw and
a summary, and exits 1 if any draw fails, has NaN, or has shapes other than TalkVid's stage-3 ones.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--talkvid-src", required=True, help="TalkVid's src/ folder (holds dataset/)")
    parser.add_argument("--index", required=True, help="vexpress.json of a talkset export")
    parser.add_argument("--num-frames", type=int, default=8, help="frames per sample (TalkVid stage 3: 8)")
    parser.add_argument("--lang", default="none", help="the class's language filter: en (stage 3; it loops "
                        "forever when no clip's info.language is English) or none (stages 1-2)")
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()

    import torch

    sys.path.insert(0, os.path.abspath(args.talkvid_src))
    from dataset.talking_face_video import TalkingFaceVideo

    index = os.path.abspath(args.index)
    os.chdir(tempfile.mkdtemp(prefix="talkvid-loader-"))
    # TalkVid stage 3 (configs/stage_3.yaml): 512x512, flip 0.5, sample_rate 1, margin 30, padding 2, lang en.
    ds = TalkingFaceVideo(image_size=(512, 512), meta_paths=[index], flip_rate=0.5, sample_rate=1,
                          num_frames=args.num_frames, reference_margin=30, num_padding_audio_frames=2,
                          kps_type="v", lang=None if args.lang == "none" else args.lang)
    f = args.num_frames
    want = {"reference_image": (3, 512, 512), "target_images": (3, f, 512, 512), "kps_images": (3, f, 512, 512),
            "audio_frame_embeddings": (f, 10, 768), "face_masks": (1, f, 64, 64), "lip_masks": (1, f, 64, 64)}
    print(f"torch {torch.__version__}; {len(ds)} samples in {index}; cwd {os.getcwd()}", flush=True)
    bad = 0
    for i in range(len(ds)):
        for d in range(args.draws):
            tic = time.perf_counter()
            try:
                sample = ds[i]
            except Exception as e:
                print(f"{i} draw {d}: FAILED {type(e).__name__}: {e}")
                bad += 1
                continue
            shapes = {k: tuple(v.shape) for k, v in sample.items()}
            nan = [k for k, v in sample.items() if not torch.isfinite(v).all()]
            ok = shapes == want and not nan and sample["lip_masks"].sum() > 0
            bad += not ok
            print(f"{i} draw {d}: {'ok' if ok else 'BAD'} {time.perf_counter() - tic:.2f}s "
                  f"lip mask {sample['lip_masks'].mean().item():.3f} face mask {sample['face_masks'].mean().item():.3f}"
                  + (f" shapes {shapes}" if shapes != want else "") + (f" NaN in {nan}" if nan else ""), flush=True)
    print(f"{len(ds) * args.draws - bad} of {len(ds) * args.draws} draws loaded with TalkVid's shapes and no NaN")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
