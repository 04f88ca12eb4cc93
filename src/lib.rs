//! interprim: AND/OR interaction primitives of neural networks, and the generalizable ones that
//! several networks share (Chen et al., ICLR 2024).
