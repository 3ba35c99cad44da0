"""The baseline predicts the majority class (run by promote's gate: python -m unittest)."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import model


class Majority(unittest.TestCase):
    def test_predicts_the_majority(self) -> None:
        rows = [{"diagnosis": d} for d in "BBM"]
        self.assertEqual(model.predict(model.fit(rows), {"mean_radius": "30"}), "B")


if __name__ == "__main__":
    unittest.main()
