"""Analysis of sample banks: exact estimators (:mod:`.estimators`), the cost model
(:mod:`.cost`), replay simulation of strategies (:mod:`.simulate`, vectorised rules in
:mod:`.fast`), accuracy-vs-compute curves (:mod:`.curves`), the Pareto frontier and
compute-optimal choices (:mod:`.pareto`), figures (:mod:`.plots`), HTML reports
(:mod:`.report`), verifier quality (:mod:`.verifier_metrics`) and synthetic banks
(:mod:`.synthetic`). Import from the modules; nothing heavy is imported here."""
