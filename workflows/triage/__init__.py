"""Triage of a question to a space, as a person would read it: French stems (`normalise`),
weighted rules with multi-word and negative terms (`rules`), a naive Bayes model learnt from
the reviewers' decisions and the published Q&A (`model`), and the combination that explains
itself (`decide`). Pure: no I/O; the shell trains the model and hands it in."""
