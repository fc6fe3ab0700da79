package wire

import "syscall"

func changeTime(st *syscall.Stat_t) uint64 { return uint64(st.Ctim.Nano()) }
