"""The shared vocabulary: OUA key organs and uptake states (ids fixed, see DESIGN.md)."""

from __future__ import annotations

ORGANS: tuple[str, ...] = (
    "brain",
    "pharynx",
    "salivary_glands",
    "thyroid",
    "cervical_lymph_nodes",
    "lung",
    "mediastinal_lymph_nodes",
    "esophagus",
    "liver",
    "gallbladder",
    "pancreas",
    "spleen",
    "kidney",
    "adrenal",
    "stomach",
    "intestine",
    "abdominal_lymph_nodes",
    "reproductive",
    "bone",
)

STATES: tuple[str, ...] = ("increased", "decreased", "absent", "normal")
ABNORMAL_STATES: tuple[str, ...] = ("increased", "decreased", "absent")
