//! The CPU-time clocks of Linux, read with `clock_gettime`; shared by the examples and the
//! llama.cpp benchmarks (`benches/llama`).
#![allow(dead_code)] // each user takes the clock it needs

/// `clockid_t` of the CPU time of the whole process (every thread).
pub const PROCESS_CPU: i32 = 2;

/// `clockid_t` of the CPU time of the calling thread.
pub const THREAD_CPU: i32 = 3;

/// The clock `clock` ([`PROCESS_CPU`] or [`THREAD_CPU`]) in seconds, on 64-bit Linux.
pub fn seconds(clock: i32) -> Option<f64> {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        #[repr(C)]
        struct Timespec {
            seconds: i64,
            nanoseconds: i64,
        }
        unsafe extern "C" {
            fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
        }
        let mut time = Timespec {
            seconds: 0,
            nanoseconds: 0,
        };
        // SAFETY: `time` is a valid, writable `struct timespec` (two 64-bit fields on 64-bit
        // Linux), the one thing `clock_gettime` writes.
        let status = unsafe { clock_gettime(clock, &mut time) };
        (status == 0).then_some(time.seconds as f64 + time.nanoseconds as f64 * 1e-9)
    }
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    {
        let _ = clock;
        None
    }
}
