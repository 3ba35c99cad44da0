"""Nearest centroid puts a row with the malignant rows' values in M (run by promote's gate)."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import model


class NearestCentroid(unittest.TestCase):
    def test_closest_average_wins(self) -> None:
        rows = [{"id": str(i), "mean_radius": r, "diagnosis": d}
                for i, (r, d) in enumerate([("10", "B"), ("12", "B"), ("20", "M"), ("22", "M")])]
        fitted = model.fit(rows)
        self.assertEqual(model.predict(fitted, {"mean_radius": "21"}), "M")
        self.assertEqual(model.predict(fitted, {"mean_radius": "11"}), "B")


if __name__ == "__main__":
    unittest.main()
