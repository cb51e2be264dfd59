//! The kernel's list format for CPUs and NUMA nodes ("0-3,7"), as
//! `process.execCPUAffinity` and `linux.memoryPolicy.nodes` use it, and the
//! bit masks sched_setaffinity(2) and set_mempolicy(2) take.

/// The largest CPU or node number accepted (the kernel's NR_CPUS limit on
/// x86_64 is 8192; nodes are far fewer).
pub const MAX_ID: usize = 8191;

/// Parses "0-3,7" into its numbers, in order; an empty list is empty. The
/// error says what is wrong with which part.
pub fn parse(list: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    if list.trim().is_empty() {
        return Ok(out);
    }
    for part in list.split(',') {
        let part = part.trim();
        let num = |s: &str| -> Result<usize, String> {
            let n: usize = s.parse().map_err(|_| format!("{list:?}: {part:?} is not a number or a range like 0-3"))?;
            if n > MAX_ID {
                return Err(format!("{list:?}: {n} is above {MAX_ID}"));
            }
            Ok(n)
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return Err(format!("{list:?}: the range {part:?} ends before it starts"));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

/// The bit mask of `ids`, in 64-bit words (word i holds ids 64i..64i+63).
pub fn mask(ids: &[usize]) -> Vec<u64> {
    let words = ids.iter().max().map_or(0, |m| m / 64 + 1);
    let mut m = vec![0u64; words];
    for &i in ids {
        m[i / 64] |= 1 << (i % 64);
    }
    m
}

/// Reads a sysfs list such as /sys/devices/system/cpu/online ("" if absent).
pub fn host_list(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// The ids of `wanted` that are not in the host's `list`.
pub fn missing(wanted: &[usize], host: &str) -> Vec<usize> {
    let have = parse(host).unwrap_or_default();
    wanted.iter().copied().filter(|i| !have.contains(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_like_the_kernels() {
        assert_eq!(parse("0-3,7").unwrap(), vec![0, 1, 2, 3, 7]);
        assert_eq!(parse("1").unwrap(), vec![1]);
        assert_eq!(parse("").unwrap(), Vec::<usize>::new());
        assert!(parse("2-1").unwrap_err().contains("ends before it starts"));
        assert!(parse("x").unwrap_err().contains("not a number"));
        assert!(parse("0,").is_err());
        assert!(parse("99999").unwrap_err().contains("above"));
    }

    #[test]
    fn masks_have_one_bit_per_id() {
        assert_eq!(mask(&[0, 1]), vec![3]);
        assert_eq!(mask(&[65]), vec![0, 2]);
        assert!(mask(&[]).is_empty());
        assert_eq!(missing(&[0, 5], "0-1"), vec![5]);
    }
}
