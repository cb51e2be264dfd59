//! The pod's pause program, as a tiny static x86-64 ELF written by the test
//! (no compiler in the guest's path: gcc takes half a minute under TCG).
//! Like Kubernetes' pause it holds the pod's namespaces, reaps the orphans
//! that a shared pid namespace hands it (it is that namespace's init), and
//! exits 0 on SIGINT or SIGTERM. It blocks those three signals and takes
//! them with rt_sigtimedwait, so it needs no handler (and a namespace's init
//! gets blocked signals even with the default disposition).
//!
//! The code, assembled with GNU as (`.intel_syntax noprefix`) and checked
//! against `objdump -d`:
//!
//! ```text
//! 00 b8 0e 00 00 00         mov  eax, 14            ; rt_sigprocmask(
//! 05 31 ff                  xor  edi, edi           ;   SIG_BLOCK,
//! 07 48 8d 35 50 00 00 00   lea  rsi, [rip+0x50]    ;   &set (at 0x5e),
//! 0e 31 d2                  xor  edx, edx           ;   NULL,
//! 10 41 ba 08 00 00 00      mov  r10d, 8            ;   sizeof set)
//! 16 0f 05                  syscall
//! 18 b8 80 00 00 00  wait:  mov  eax, 128           ; rt_sigtimedwait(
//! 1d 48 8d 3d 3a 00 00 00   lea  rdi, [rip+0x3a]    ;   &set,
//! 24 31 f6                  xor  esi, esi           ;   NULL,
//! 26 31 d2                  xor  edx, edx           ;   NULL (no timeout),
//! 28 41 ba 08 00 00 00      mov  r10d, 8            ;   sizeof set)
//! 2e 0f 05                  syscall
//! 30 83 f8 11               cmp  eax, 17            ; SIGCHLD:
//! 33 74 0d                  je   reap
//! 35 85 c0                  test eax, eax           ; an error (EINTR):
//! 37 78 df                  js   wait               ;   wait again
//! 39 b8 3c 00 00 00         mov  eax, 60            ; SIGINT or SIGTERM:
//! 3e 31 ff                  xor  edi, edi           ;   exit(0)
//! 40 0f 05                  syscall
//! 42 b8 3d 00 00 00  reap:  mov  eax, 61            ; wait4(
//! 47 bf ff ff ff ff         mov  edi, -1            ;   any child,
//! 4c 31 f6                  xor  esi, esi           ;   NULL,
//! 4e ba 01 00 00 00         mov  edx, 1             ;   WNOHANG,
//! 53 45 31 d2               xor  r10d, r10d         ;   NULL)
//! 56 0f 05                  syscall
//! 58 85 c0                  test eax, eax           ; reaped one:
//! 5a 7f e6                  jg   reap               ;   try another
//! 5c eb ba                  jmp  wait
//! 5e 02 40 01 00 00 00 00 00  set: .quad (1 << 1) | (1 << 14) | (1 << 16)
//!                                  ; SIGINT, SIGTERM, SIGCHLD (bit = signo - 1)
//! ```

const CODE: &[u8] = &[
    0xb8, 0x0e, 0x00, 0x00, 0x00, 0x31, 0xff, 0x48, 0x8d, 0x35, 0x50, 0x00, 0x00, 0x00, 0x31, 0xd2, //
    0x41, 0xba, 0x08, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xb8, 0x80, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x3d, //
    0x3a, 0x00, 0x00, 0x00, 0x31, 0xf6, 0x31, 0xd2, 0x41, 0xba, 0x08, 0x00, 0x00, 0x00, 0x0f, 0x05, //
    0x83, 0xf8, 0x11, 0x74, 0x0d, 0x85, 0xc0, 0x78, 0xdf, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, //
    0x0f, 0x05, 0xb8, 0x3d, 0x00, 0x00, 0x00, 0xbf, 0xff, 0xff, 0xff, 0xff, 0x31, 0xf6, 0xba, 0x01, //
    0x00, 0x00, 0x00, 0x45, 0x31, 0xd2, 0x0f, 0x05, 0x85, 0xc0, 0x7f, 0xe6, 0xeb, 0xba, 0x02, 0x40, //
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, //
];

/// Where the file is mapped, and the sizes of the two headers before the code.
const BASE: u64 = 0x40_0000;
const EHDR: u64 = 64;
const PHDR: u64 = 56;

/// The whole ELF: header, one PT_LOAD program header mapping the file
/// read+execute at BASE, then the code (entry at its first byte).
pub fn elf() -> Vec<u8> {
    let size = EHDR + PHDR + CODE.len() as u64;
    let mut f = Vec::with_capacity(size as usize);
    // ELF header: 64-bit, little-endian, version 1, System V ABI.
    f.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    f.extend_from_slice(&62u16.to_le_bytes()); // e_machine: EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes()); // e_version
    f.extend_from_slice(&(BASE + EHDR + PHDR).to_le_bytes()); // e_entry
    f.extend_from_slice(&EHDR.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&(EHDR as u16).to_le_bytes()); // e_ehsize
    f.extend_from_slice(&(PHDR as u16).to_le_bytes()); // e_phentsize
    f.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    f.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
                                  // Program header: PT_LOAD, R+X, the whole file at BASE.
    f.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    f.extend_from_slice(&5u32.to_le_bytes()); // p_flags: PF_R | PF_X
    f.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    f.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    f.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    f.extend_from_slice(&size.to_le_bytes()); // p_filesz
    f.extend_from_slice(&size.to_le_bytes()); // p_memsz
    f.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    f.extend_from_slice(CODE);
    assert_eq!(f.len() as u64, size);
    f
}

/// Writes the program to `path`, executable.
pub fn write(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, elf()).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The pod's pause program, on the host: as a pid namespace's init it stays
/// up, reaps an orphan handed to it, and exits 0 on SIGTERM.
#[test]
fn the_pause_program_reaps_orphans_and_ends_on_sigterm() {
    use crate::common::{clients::PATIENCE, wait_until};
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("nook-pause-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pause = dir.join("pause");
    write(&pause);
    // unshare's death kills pause too (--kill-child): the guard's kill ends
    // both, and removes the file, whatever the test's end.
    struct Guard(std::process::Child, std::path::PathBuf);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    let ns = Command::new("unshare").args(["--pid", "--fork", "--kill-child"]).arg(&pause).spawn().unwrap();
    let mut ns = Guard(ns, dir);
    let children = format!("/proc/{0}/task/{0}/children", ns.0.id());
    let mut pid = String::new();
    wait_until("pause to start", PATIENCE, || {
        pid = std::fs::read_to_string(&children).unwrap().trim().to_owned();
        !pid.is_empty() && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e == pause)
    });
    // An orphan in its namespace: a shell's background child, its parent gone.
    let st = Command::new("nsenter").args(["-t", &pid, "-p", "sh", "-c", "(sleep 1 &)"]).status().unwrap();
    assert!(st.success());
    let kids = format!("/proc/{pid}/task/{pid}/children");
    assert_ne!(std::fs::read_to_string(&kids).unwrap().trim(), "", "the orphan was not handed to pause");
    wait_until("pause to reap the orphan", std::time::Duration::from_secs(20), || {
        std::fs::read_to_string(&kids).unwrap().trim().is_empty()
    });
    assert!(ns.0.try_wait().unwrap().is_none(), "pause ended by itself");
    // SAFETY: signalling a process of this test.
    assert_eq!(unsafe { libc::kill(pid.parse().unwrap(), libc::SIGTERM) }, 0);
    assert_eq!(ns.0.wait().unwrap().code(), Some(0));
}
