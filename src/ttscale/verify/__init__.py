"""Answer extraction and verifiers.

Public helpers (import from the modules): :mod:`.extract` (``extract_answer``,
``extract_raw``, ``canonicalize``, ``extract_boxed``, ``extract_choice``, ``extract_code``,
``canonical_math``), :mod:`.math` (``math_equal``, ``MathChecker``,
``equivalence_classes``), :mod:`.choice` (``choice_equal``, ``text_equal``), :mod:`.grade`
(``grade``), :mod:`.code` (``Sandbox``, ``run_tests``).

Verifiers (``ttscale.registry.verifiers.create(name, task=task, **opts)``; each has
``async score(problem, samples, backend=None) -> list[Verdict]``):

- ``oracle`` / ``math`` / ``choice`` / ``text`` — grade against the reference answers
  (analysis and verifier measurement only);
- ``code`` — run the program against the problem's tests in the sandbox;
- ``judge`` — P(True) LLM judge; ``genrm`` — V verification chains, mean verdict;
- ``prm`` — step-wise process scores (generative judge or an HTTP PRM);
- ``ensemble`` — weak verifiers combined by an unsupervised latent label model.
"""

from ..registry import verifiers

verifiers.register("oracle", "ttscale.verify.base:OracleVerifier")
verifiers.register("math", "ttscale.verify.base:MathVerifier")
verifiers.register("choice", "ttscale.verify.base:ChoiceVerifier")
verifiers.register("text", "ttscale.verify.base:TextVerifier")
verifiers.register("code", "ttscale.verify.code:CodeVerifier")
verifiers.register("judge", "ttscale.verify.judge:JudgeVerifier")
verifiers.register("genrm", "ttscale.verify.judge:GenRMVerifier")
verifiers.register("prm", "ttscale.verify.prm:PRMVerifier")
verifiers.register("ensemble", "ttscale.verify.ensemble:EnsembleVerifier")
