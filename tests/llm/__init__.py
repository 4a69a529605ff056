"""Helpers of the `llm` test tier: model directories (``models``), a throwaway vLLM
OpenAI-compatible server (``server``) and a stand-alone probe (``probe``). No pytest here."""
