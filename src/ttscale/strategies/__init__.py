"""Strategies: policies over a sample stream (Draw / Verify / Done); they never call models."""

from ..registry import strategies

strategies.register("greedy", "ttscale.strategies.vote:Greedy")
strategies.register("single", "ttscale.strategies.vote:Single")
strategies.register("sc", "ttscale.strategies.vote:SelfConsistency")
strategies.register("weighted", "ttscale.strategies.vote:Weighted")
strategies.register("rpc", "ttscale.strategies.vote:RPC")
strategies.register("borda", "ttscale.strategies.vote:Borda")
strategies.register("bon", "ttscale.strategies.select:BestOfN")
strategies.register("beta", "ttscale.strategies.adaptive:BetaStop")
strategies.register("dirichlet", "ttscale.strategies.adaptive:DirichletStop")
strategies.register("esc", "ttscale.strategies.adaptive:EarlyStopSC")
strategies.register("bayes", "ttscale.strategies.adaptive:BayesStop")
strategies.register("voi", "ttscale.strategies.adaptive:ValueOfInformation")
strategies.register("usc", "ttscale.strategies.aggregate:UniversalSC")
strategies.register("gsa", "ttscale.strategies.aggregate:SelfAggregation")
strategies.register("refine", "ttscale.strategies.refine:Refine")
strategies.register("deepen", "ttscale.strategies.refine:Deepen")
strategies.register("sdv", "ttscale.strategies.sdv:SolveDetectVerify")
strategies.register("cascade", "ttscale.strategies.cascade:Cascade")
strategies.register("abstain", "ttscale.strategies.abstain:Abstain")
