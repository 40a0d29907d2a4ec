package io.recsys.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.FileNotFoundException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.CreateFlag;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The local file systems the jobs use on a local master ({@link LocalFileSystems}) behave as Hadoop's own where
 * Spark's checkpoints and Delta's log rely on them: files and their checksums written, permissions set as asked,
 * atomic rename without overwrite, link status of files, links and missing paths; and the tests' Spark session
 * uses them, as {@link SparkSessions} makes the jobs' sessions on a local master do.
 */
class LocalFileSystemsTest {

  static Configuration conf() {
    Configuration c = new Configuration(false);
    LocalFileSystems.settings().forEach(c::set);
    c.setBoolean("fs.file.impl.disable.cache", true);
    return c;
  }

  @Test
  void fileContextWritesRenamesAndSetsPermissionsAsHadoopDoes(@TempDir java.nio.file.Path dir) throws Exception {
    FileContext fc = FileContext.getFileContext(dir.toUri(), conf());
    assertThat(fc.getDefaultFileSystem()).isInstanceOf(LocalFileSystems.ContextFs.class);
    Path tmp = new Path(dir.toUri().toString() + "/log/.00001.tmp");
    try (OutputStream out = fc.create(tmp, EnumSet.of(CreateFlag.CREATE),
        Options.CreateOpts.perms(new FsPermission((short) 0640)), Options.CreateOpts.createParent())) {
      out.write("v1\n{}".getBytes(StandardCharsets.UTF_8));
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("log/.00001.tmp"))))
        .isEqualTo("rw-r-----");
    assertThat(Files.exists(dir.resolve("log/..00001.tmp.crc"))).as("checksum file").isTrue();

    Path target = new Path(dir.toUri().toString() + "/log/00001");
    fc.rename(tmp, target, Options.Rename.NONE);
    assertThat(new String(Files.readAllBytes(dir.resolve("log/00001")), StandardCharsets.UTF_8)).isEqualTo("v1\n{}");
    // a second writer of the same batch loses: rename without overwrite fails on an existing file
    Path other = new Path(dir.toUri().toString() + "/log/.00001.other.tmp");
    try (OutputStream out = fc.create(other, EnumSet.of(CreateFlag.CREATE))) {
      out.write('x');
    }
    assertThatThrownBy(() -> fc.rename(other, target, Options.Rename.NONE))
        .isInstanceOf(org.apache.hadoop.fs.FileAlreadyExistsException.class);

    assertThat(fc.getFileLinkStatus(target).isSymlink()).isFalse();
    assertThat(fc.getFileLinkStatus(target).getLen()).isEqualTo(5);
    assertThatThrownBy(() -> fc.getFileLinkStatus(new Path(dir.toUri().toString() + "/log/missing")))
        .isInstanceOf(FileNotFoundException.class);
  }

  @Test
  void fileSystemSetsPermissionsAndReportsLinksAsHadoopDoes(@TempDir java.nio.file.Path dir) throws Exception {
    FileSystem fs = FileSystem.get(dir.toUri(), conf());
    assertThat(fs).isInstanceOf(LocalFileSystems.Fs.class);
    Path d = new Path(dir.toUri().toString() + "/state/0");
    assertThat(fs.mkdirs(d, new FsPermission((short) 0750))).isTrue();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("state/0"))))
        .isEqualTo("rwxr-x---");
    Path f = new Path(d, "1.changelog");
    try (OutputStream out = fs.create(f)) {
      out.write(new byte[] {1, 2, 3});
    }
    fs.setPermission(f, new FsPermission((short) 0600));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("state/0/1.changelog"))))
        .isEqualTo("rw-------");
    assertThat(fs.getFileStatus(f).getPermission().toShort()).isEqualTo((short) 0600);

    // a link: the answer of Hadoop's own local file system (which reports links only with symlinks enabled)
    Files.createSymbolicLink(dir.resolve("state/latest"), dir.resolve("state/0/1.changelog"));
    Path link = new Path(dir.toUri().toString() + "/state/latest");
    org.apache.hadoop.fs.RawLocalFileSystem hadoops = new org.apache.hadoop.fs.RawLocalFileSystem();
    hadoops.initialize(dir.toUri(), new Configuration(false));
    for (Path p : new Path[] {link, f, d}) {
      org.apache.hadoop.fs.FileStatus ours = fs.getFileLinkStatus(p);
      org.apache.hadoop.fs.FileStatus theirs = hadoops.getFileLinkStatus(p);
      assertThat(ours.isSymlink()).as(p.toString()).isEqualTo(theirs.isSymlink());
      assertThat(ours.isDirectory()).as(p.toString()).isEqualTo(theirs.isDirectory());
      assertThat(ours.getLen()).as(p.toString()).isEqualTo(theirs.getLen());
      assertThat(ours.getPath()).as(p.toString()).isEqualTo(theirs.getPath());
    }
    assertThat(fs.getFileLinkStatus(f).getLen()).isEqualTo(3);
  }

  @Test
  void theTestsSessionUsesThemAsTheJobsDoOnALocalMaster() {
    SparkSession spark = SparkTestSession.get();
    LocalFileSystems.settings().forEach((k, v) ->
        assertThat(spark.sessionState().newHadoopConf().get(k)).as(k).isEqualTo(v));
  }
}
