"""Floors, lowest first; a module imports from its own floor and those below, never up, never in a cycle:
1. files and settings: ``config``, ``atomic``, ``checkpoint_file``, ``student`` -> ``codec``, ``scenes``
2. networks and measures: ``models`` (``models.preprocess``: a network's input) -> ``cost``, ``evaluate``
3. training and shipped files: ``train``, ``realdata`` -> ``assets`` -> ``train.build`` (``build-assets``)
4. reading and showing: ``sweep``, ``results``, ``viz``, ``overlay`` (figures take data) -> ``widgets``
5. whole videos and the command line: ``playerframes`` -> ``player``, ``playerbench``, ``endtoend`` -> ``cli``

arseg-tutorial: AR-Seg (Hu et al., CVPR 2023) as a small library behind numbered notebooks.
Submodules are imported on demand so that ``import arseg_tutorial`` stays fast.
"""
__version__ = "0.1.0"
