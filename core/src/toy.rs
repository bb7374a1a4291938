//! The simplified 2-D SGD model of the paper (eq. 6, Fig. 8).
