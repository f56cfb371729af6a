"""Model backends: where samples come from. Each returns :class:`~ttscale.types.Generation`s."""

from ..registry import backends

backends.register("hf", "ttscale.backends.hf:HFBackend")
backends.register("mock", "ttscale.backends.mock:MockBackend")
backends.register("openai", "ttscale.backends.openai:OpenAIBackend")
backends.register("vllm", "ttscale.backends.vllm:VLLMBackend")
