package results

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic creates the file path with what write writes, so that
// path never exists empty or partial: write writes (buffered) to a temporary
// file in path's directory, which is synced and then hard-linked to path.
// The link fails if path exists, so an existing file is never overwritten,
// including one created by someone else while write ran. The temporary file
// is removed in every case, so a failed or interrupted write leaves nothing
// behind that blocks the next attempt (a process killed mid-write can leave
// a ".NAME.tmp-*" file, never NAME).
//
// It refuses an existing path before calling write, so that a long
// computation is not wasted. Where the file system has no hard links, it
// falls back to an exclusive create of path and a copy of the synced
// temporary file, which is still never overwriting but can leave path
// partial if the process dies during the copy. The file gets mode 0644
// (the temporary file's 0600 widened, umask not applied). An existing path
// gives an error wrapping os.ErrExist; write's error is returned as is.
// It is safe for concurrent use on different paths; concurrent calls on
// one path create it at most once.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, os.ErrExist)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	lerr := os.Link(tmp.Name(), path)
	if lerr == nil {
		syncDir(dir)
		return nil
	}
	if errors.Is(lerr, os.ErrExist) {
		return fmt.Errorf("%s: %w (created while it was being written)", path, os.ErrExist)
	}
	return copyExclusive(tmp.Name(), path)
}

// copyExclusive copies src to dst, which must not exist: the fallback for
// file systems without hard links.
func copyExclusive(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}

// syncDir makes the new directory entry durable, where the platform allows
// it; a failure only weakens durability, so it is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
