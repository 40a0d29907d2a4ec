package io.recsys.spark;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFs;
import org.apache.hadoop.fs.DelegateToFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsAction;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system (file:/ paths) without a child process per file. Without Hadoop's native library
 * (libhadoop, which no Maven artifact ships), {@link RawLocalFileSystem} sets a file's permissions by running
 * {@code chmod} and reads a path's link status by running {@code readlink}: a fork of the JVM each time. Every
 * file that Spark's streaming checkpoints, state stores and Delta's log write on a local disk pays for one or
 * more, and on our 2-core machine a micro-batch's two checkpoint-log writes took about 50 ms each (an idle query
 * on the rate source; with these file systems, 2-3 ms each: BENCHMARKS.md, freshness notes). These subclasses do both through
 * java.nio instead, and otherwise are Hadoop's own.
 *
 * <p>{@link SparkSessions} registers them for local masters ({@link #settings}): {@code fs.file.impl} (the
 * FileSystem API) and {@code fs.AbstractFileSystem.file.impl} (the FileContext API, which Spark's checkpoint file
 * manager and Delta's log store use). On a cluster, file:/ is not where checkpoints live, and Spark's defaults
 * stay.
 */
public final class LocalFileSystems {

  private LocalFileSystems() {}

  /** The Hadoop settings that select these file systems for file:/ paths. */
  public static java.util.Map<String, String> settings() {
    return java.util.Map.of("fs.file.impl", Fs.class.getName(),
        "fs.AbstractFileSystem.file.impl", ContextFs.class.getName());
  }

  /** {@code fs.file.impl}: Hadoop's checksummed local file system over {@link Raw}. */
  public static final class Fs extends LocalFileSystem {
    public Fs() {
      super(new Raw());
    }
  }

  /** {@code fs.AbstractFileSystem.file.impl}: Hadoop's {@code LocalFs} (checksummed) over {@link Raw}. */
  public static final class ContextFs extends ChecksumFs {
    public ContextFs(URI uri, Configuration conf) throws IOException, URISyntaxException {
      super(new RawContextFs(uri, conf));
    }
  }

  /** Hadoop's {@code RawLocalFs} over {@link Raw}. */
  static final class RawContextFs extends DelegateToFileSystem {
    RawContextFs(URI uri, Configuration conf) throws IOException, URISyntaxException {
      super(uri, new Raw(), conf, "file", false);
    }

    @Override
    public int getUriDefaultPort() {
      return -1; // no port for file:/
    }

    @Override
    public boolean isValidName(String src) {
      return true; // local paths may hold ':' and other characters HDFS refuses
    }
  }

  /** {@link RawLocalFileSystem} with permissions and link status through java.nio, not child processes. */
  public static final class Raw extends RawLocalFileSystem {

    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
      if (permission.getStickyBit()) {
        super.setPermission(p, permission); // java.nio cannot set it
        return;
      }
      try {
        Files.setPosixFilePermissions(pathToFile(p).toPath(), posix(permission));
      } catch (UnsupportedOperationException e) {
        super.setPermission(p, permission); // not a POSIX file system
      }
    }

    @Override
    public FileStatus getFileLinkStatus(Path f) throws IOException {
      // Hadoop runs readlink for every path; only a link needs it
      if (!Files.isSymbolicLink(pathToFile(f).toPath())) {
        return getFileStatus(f);
      }
      return super.getFileLinkStatus(f);
    }
  }

  static Set<PosixFilePermission> posix(FsPermission p) {
    Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
    add(out, p.getUserAction(), PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.OWNER_EXECUTE);
    add(out, p.getGroupAction(), PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
        PosixFilePermission.GROUP_EXECUTE);
    add(out, p.getOtherAction(), PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
        PosixFilePermission.OTHERS_EXECUTE);
    return out;
  }

  private static void add(Set<PosixFilePermission> out, FsAction a, PosixFilePermission r, PosixFilePermission w,
      PosixFilePermission x) {
    if (a.implies(FsAction.READ)) {
      out.add(r);
    }
    if (a.implies(FsAction.WRITE)) {
      out.add(w);
    }
    if (a.implies(FsAction.EXECUTE)) {
      out.add(x);
    }
  }
}
