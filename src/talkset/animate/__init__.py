"""Animate: a portrait plus speech (or a driving video) becomes a talking video, on a CPU, nothing downloaded."""
