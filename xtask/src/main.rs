//! `cargo xtask generate [--check]`: writes (or, with --check, verifies) every generated file.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate"] => false,
        ["generate", "--check"] => true,
        _ => {
            eprintln!("usage: cargo xtask generate [--check]");
            return ExitCode::from(2);
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = match xtask::generated(&root) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = 0;
    for g in files {
        let path = root.join(&g.path);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(g.content.as_str()) {
            continue;
        }
        stale += 1;
        if check {
            println!("stale: {}", g.path.display());
            continue;
        }
        if let Err(e) = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, &g.content))
        {
            eprintln!("cannot write {}: {e}", g.path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", g.path.display());
    }
    if check && stale > 0 {
        eprintln!("{stale} stale; run `cargo xtask generate`");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
