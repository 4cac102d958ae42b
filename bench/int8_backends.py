"""int8 backends for the re-embed benchmark, exported offline from the bundled all-MiniLM-L6-v2 and cached.

sentence-transformers' own ``backend="onnx"`` / ``backend="openvino"`` and its ``export_*_quantized_*`` helpers
need optimum-onnx or optimum-intel, and neither installs beside transformers 5.23.0 (see ``OPTIMUM_ROUTE``). The
same int8 models are therefore built from the runtimes directly, once, into ``bench/.cache/reembed/<key>/``:

* ``model.onnx``: the model's transformer (``last_hidden_state``), exported with ``torch.onnx.export``
  (TorchScript exporter, opset 17, dynamic batch and sequence axes); fp32, the source of the others;
* ``onnx-int8``: ``onnxruntime.quantization.quantize_dynamic`` of every MatMul, int8 weights per channel,
  activations quantized per batch at run time (what ``export_dynamic_quantized_onnx_model`` does), run by
  onnxruntime;
* ``openvino-int8``: ``nncf.compress_weights`` INT8_ASYM (int8 weights per channel, fp32 activations, embedding
  tables left fp32), run by OpenVINO;
* ``openvino-int8-static``: ``nncf.quantize`` (int8 weights and activations, ``ModelType.TRANSFORMER``),
  calibrated on 300 local sentences that are not in the measured corpora (the sentence-transformers helper
  would download GLUE/SST-2 for this), run by OpenVINO;
* ``onnx-fp32`` / ``openvino-fp32`` (on request): ``model.onnx`` itself in either runtime, to tell the runtime's
  share of a speed-up from int8's.

OpenVINO runs with ``INFERENCE_PRECISION_HINT=f32``: on a CPU with bf16 support its default is bf16, which would
mix a second precision loss into the int8 figures. Each backend runs only the transformer; tokenization,
length-sorted batching, pooling and normalisation are the SentenceTransformer's own modules, so the pipelines
differ in the transformer alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache" / "reembed"
RECIPE = "1"  # bump when an export below changes, so cached models are rebuilt
BATCH = 64
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
BACKENDS = ("onnx-int8", "openvino-int8", "openvino-int8-static")
FP32 = ("onnx-fp32", "openvino-fp32")  # the same runtimes unquantized: how much of a speed-up is int8's
NEEDS = {"onnx-int8": ("onnx", "onnxruntime"), "openvino-int8": ("onnx", "openvino", "nncf"),
         "openvino-int8-static": ("onnx", "openvino", "nncf"), "onnx-fp32": ("onnx", "onnxruntime"),
         "openvino-fp32": ("onnx", "openvino")}
OPTIMUM_ROUTE = (
    "sentence-transformers' backend='onnx'/'openvino' needs optimum-onnx or optimum-intel, which pip cannot install "
    "here: 'optimum-onnx 0.1.0 depends on transformers<4.58.0 and >=4.36' and 'optimum-intel 2.2.0 depends on "
    "transformers<5.6 and >=4.51', but transformers==5.23.0 is pinned (ResolutionImpossible); the int8 models are "
    "built with onnx/onnxruntime and openvino/nncf directly instead")

Encoder = Callable[[Sequence[str]], np.ndarray]


def missing(backend: str) -> list[str]:
    """The Python distributions ``backend`` needs that are not installed (see requirements-bench.txt)."""
    return [name for name in NEEDS[backend] if importlib.util.find_spec(name) is None]


def _versions(*names: str) -> str:
    out = []
    for name in names:
        try:
            out.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name}=-")
    return ",".join(out)


def cache_dir(model_path: Path) -> Path:
    """Where the exports of the model at ``model_path`` are kept: keyed by model, recipe and tool versions."""
    tools = _versions("torch", "transformers", "onnx", "onnxruntime", "openvino", "nncf")
    key = f"{model_path.resolve()}|{RECIPE}|{tools}"
    return CACHE / hashlib.sha256(key.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _no_telemetry() -> Iterator[None]:
    # openvino's converter and nncf report usage to Intel unless they believe they run in CI
    before = os.environ.get("CI")
    os.environ["CI"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CI", None)
        else:
            os.environ["CI"] = before


def _atomic(target: Path, build: Callable[[Path], None]) -> Path:
    if target.exists():
        return target
    scratch = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    build(scratch)
    try:
        scratch.rename(target)
    except OSError:  # another process built it first
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _export_fp32_onnx(model: Any, directory: Path) -> Path:
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, transformer: Any) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

    def build(scratch: Path) -> None:
        features = model.preprocess(["an example sentence", "and a somewhat longer second example sentence"])
        axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
            torch.onnx.export(LastHiddenState(model[0].auto_model).eval(), tuple(features[n] for n in INPUTS),
                              str(scratch / "model.onnx"), dynamo=False, input_names=list(INPUTS),
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17)

    return _atomic(directory / "fp32", build) / "model.onnx"


def _export_onnx_int8(source: Path, directory: Path) -> Path:
    def build(scratch: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(source), str(scratch / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])

    return _atomic(directory / "onnx-int8", build) / "model.onnx"


def _export_openvino(source: Path, directory: Path, name: str, quantize: Callable[[Any], Any]) -> Path:
    def build(scratch: Path) -> None:
        with _no_telemetry():
            import openvino as ov

            ov.save_model(quantize(ov.convert_model(str(source))), str(scratch / "model.xml"), compress_to_fp16=False)

    return _atomic(directory / name, build) / "model.xml"


def _feeds(model: Any, texts: Sequence[str], names: Sequence[str]) -> dict[str, np.ndarray]:
    features = model.preprocess(list(texts))
    return {name: features[name].numpy().astype(np.int64) for name in names}


def _encoder(model: Any, run: Callable[[dict[str, np.ndarray]], np.ndarray], names: Sequence[str]) -> Encoder:
    """Length-sorted batches → tokenizer → ``run`` (the transformer) → the model's own pooling/normalize modules."""
    import torch

    tail = list(model)[1:]

    def encode(texts: Sequence[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), model.get_embedding_dimension()), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), BATCH):
                rows = order[start:start + BATCH]
                features = model.preprocess([texts[i] for i in rows])
                feed = {name: features[name].numpy().astype(np.int64) for name in names}
                features["token_embeddings"] = torch.from_numpy(np.asarray(run(feed), dtype=np.float32))
                for module in tail:
                    features = module(features)
                out[rows] = features["sentence_embedding"].numpy()
        return out

    return encode


def load(backend: str, model: Any, model_path: Path, threads: int,
         calibration: Sequence[str] = ()) -> Encoder:
    """An encoder for ``backend``, exporting (once, cached) from ``model`` loaded from ``model_path``.

    :param calibration: sentences for ``openvino-int8-static``; part of its cache key.
    :raises ModuleNotFoundError: when a package the backend needs is missing.
    """
    absent = missing(backend)
    if absent:
        raise ModuleNotFoundError(f"{backend} needs {', '.join(absent)} (pip install -r requirements-bench.txt)")
    directory = cache_dir(model_path)
    source = _export_fp32_onnx(model, directory)
    if backend.startswith("onnx-"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = ort.InferenceSession(str(_export_onnx_int8(source, directory) if backend == "onnx-int8" else source),
                                       options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        return _encoder(model, lambda feed: session.run(None, feed)[0], names)
    if backend == "openvino-fp32":
        path = _export_openvino(source, directory, backend, lambda m: m)
    elif backend == "openvino-int8":
        with _no_telemetry():
            import nncf

        path = _export_openvino(source, directory, backend, lambda m: nncf.compress_weights(
            m, mode=nncf.CompressWeightsMode.INT8_ASYM, ignored_scope=nncf.IgnoredScope(types=["Gather"])))
    else:
        with _no_telemetry():
            import nncf

        digest = hashlib.sha256("\n".join(calibration).encode()).hexdigest()[:12]

        def static(m: Any) -> Any:
            names = [i.get_any_name() for i in m.inputs]
            items = [_feeds(model, calibration[i:i + 8], names) for i in range(0, len(calibration), 8)]
            return nncf.quantize(m, nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER,
                                 subset_size=len(items))

        path = _export_openvino(source, directory, f"{backend}-{digest}", static)
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                          "INFERENCE_PRECISION_HINT": "f32",
                                                          "PERFORMANCE_HINT": "LATENCY"})
    names = [i.get_any_name() for i in compiled.inputs]
    return _encoder(model, lambda feed: compiled(feed)[0], names)
