"""3D scene, charts and reports of simulated lines (reads results and traces only)."""
