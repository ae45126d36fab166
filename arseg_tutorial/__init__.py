"""arseg-tutorial: AR-Seg (Hu et al., CVPR 2023) as a small library behind numbered notebooks.

Rooms: ``config`` (profiles, seeding, device), ``codec`` (compressed video), ``scenes`` (the
procedural street-scene generator), ``models`` (networks, local attention, CReFF, AR-Seg),
``train`` (losses, loops, checkpoints), ``evaluate``, ``cost``, ``viz``, ``widgets``, ``assets``.
Submodules are imported on demand so that ``import arseg_tutorial`` stays fast.
"""
__version__ = "0.1.0"
