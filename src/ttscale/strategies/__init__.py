"""Strategies: policies over a sample stream (Draw / Verify / Done); they never call models."""

from ..registry import strategies

strategies.register("greedy", "ttscale.strategies.vote:Greedy")
strategies.register("single", "ttscale.strategies.vote:Single")
strategies.register("sc", "ttscale.strategies.vote:SelfConsistency")
