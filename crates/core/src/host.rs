//! This machine's name (in Kubernetes, the pod's), for messages that say
//! where a run happened: the lock's holder, the failure alert.

/// The host name the kernel reports (`uname`), without reading a file: it is
/// asked for inside async code, where a blocking read would hold a worker of
/// the runtime.
pub fn host_name() -> Option<String> {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().trim().to_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_host_name_is_the_kernels() {
        let from_proc = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(super::host_name().as_deref(), Some(from_proc.trim()));
    }
}
