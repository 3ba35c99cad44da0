from __future__ import annotations

from branchml.core.mlruns import meta_value, plan_merge, set_meta

EXP = b"artifact_location: file:///x/mlruns/1\nexperiment_id: '1'\nname: churn\n"
RUN = b"artifact_uri: file:///x/mlruns/1/r1/artifacts\nexperiment_id: '1'\nrun_id: r1\n"


def test_new_experiment_keeps_free_id_and_rewrites_paths() -> None:
    plan = plan_merge({"mlruns/1/meta.yaml": EXP, "mlruns/1/r1/meta.yaml": RUN,
                       "mlruns/1/r1/metrics/acc": b"1 0.9 0\n"}, {}, set(), "999")
    assert plan.experiments_created == ["churn"] and plan.runs_added == ["r1"]
    assert meta_value(plan.files["mlruns/1/meta.yaml"], "artifact_location") == "mlruns/1"
    assert meta_value(plan.files["mlruns/1/r1/meta.yaml"], "artifact_uri") == \
        "mlruns/1/r1/artifacts"
    assert plan.files["mlruns/1/r1/metrics/acc"] == b"1 0.9 0\n"


def test_same_name_other_id_joins_mains_experiment() -> None:
    main = {"7": b"experiment_id: '7'\nname: churn\n"}
    plan = plan_merge({"mlruns/1/meta.yaml": EXP, "mlruns/1/r1/meta.yaml": RUN}, main, set(),
                      "999")
    assert plan.experiments_created == []
    assert meta_value(plan.files["mlruns/7/r1/meta.yaml"], "experiment_id") == "7"


def test_id_taken_by_another_name_gets_a_new_id() -> None:
    main = {"1": b"experiment_id: '1'\nname: other\n"}
    plan = plan_merge({"mlruns/1/meta.yaml": EXP, "mlruns/1/r1/meta.yaml": RUN}, main, set(),
                      "999")
    assert "mlruns/999/meta.yaml" in plan.files and "mlruns/999/r1/meta.yaml" in plan.files


def test_run_already_on_main_is_reported_not_overwritten() -> None:
    plan = plan_merge({"mlruns/1/meta.yaml": EXP, "mlruns/1/r1/meta.yaml": RUN},
                      {"1": EXP}, {"r1"}, "999")
    assert plan.runs_present == ["r1"] and plan.files == {}


def test_set_meta_adds_missing_key() -> None:
    assert set_meta(b"a: 1\n", "b", "2") == b"a: 1\nb: 2\n"
