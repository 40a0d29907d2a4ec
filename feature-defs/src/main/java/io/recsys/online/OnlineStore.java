package io.recsys.online;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import org.redisson.Redisson;
import org.redisson.api.BatchOptions;
import org.redisson.api.RBatch;
import org.redisson.api.RFuture;
import org.redisson.api.RScript;
import org.redisson.api.RScriptAsync;
import org.redisson.api.RedissonClient;
import org.redisson.api.redisnode.RedisMaster;
import org.redisson.api.redisnode.RedisNodes;
import org.redisson.client.RedisException;
import org.redisson.client.codec.ByteArrayCodec;
import org.redisson.client.protocol.RedisCommands;
import org.redisson.command.CommandAsyncExecutor;
import org.redisson.command.CommandBatchService;
import org.redisson.config.Config;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis online store in Feast's layout, through Redisson: pipelined writes that never go back in time, and
 * pipelined reads of many entities. Writes run as a Lua script (loaded once, then called by SHA) because the
 * stale-write check must be atomic with the write; reads are plain HMGETs. Feast's keys are binary, which
 * Redisson's object API cannot name; both paths pass them as bytes.
 *
 * <p>Cost: one network round trip per {@code batchSize} rows (writes) or per call (reads); one Lua call (write)
 * or one HMGET (read) per entity. Thread-safe. On executors, use {@link #shared}: one client per JVM and
 * address, built on first use, closed at JVM exit, so nothing non-serializable is captured in a Spark closure.
 */
public final class OnlineStore implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(OnlineStore.class);
  private static final Map<String, OnlineStore> SHARED = new ConcurrentHashMap<>();
  static final String WRITE_SCRIPT = resource("write-if-newer.lua");

  private final String address;
  /** Writes, scripts, pings, and reads made off the loops of {@link #connect(String, EventLoopGroup)}. */
  private final RedissonClient client;
  /** Redisson's command layer, which takes binary keys (the reads' HMGETs go through it). */
  private final CommandAsyncExecutor executor;
  /** Every client of this store: {@link #client} alone, or one per event loop. */
  private final List<RedissonClient> clients;
  /** With {@link #connect(String, EventLoopGroup)}: each event loop's thread and the command layer of its client. */
  private final Map<Thread, CommandAsyncExecutor> loopExecutors;
  private volatile String writeSha;

  private OnlineStore(String address, EventLoopGroup loops) {
    this.address = normalize(address);
    if (loops == null) {
      this.clients = List.of(create(this.address, null));
      this.loopExecutors = Map.of();
    } else {
      List<RedissonClient> created = new ArrayList<>();
      Map<Thread, CommandAsyncExecutor> byThread = new HashMap<>();
      try {
        for (EventExecutor loop : loops) {
          RedissonClient c = create(this.address, (EventLoop) loop);
          created.add(c);
          byThread.put(loop.submit(Thread::currentThread).get(), commandsOf(c));
        }
      } catch (RuntimeException | ExecutionException | InterruptedException e) {
        created.forEach(RedissonClient::shutdown);
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        throw e instanceof RuntimeException r ? r : new IllegalStateException("cannot start the Redis clients", e);
      }
      this.clients = List.copyOf(created);
      this.loopExecutors = Map.copyOf(byThread);
    }
    this.client = clients.get(0);
    this.executor = commandsOf(client);
  }

  private static RedissonClient create(String address, EventLoop loop) {
    Config config = new Config();
    config.setCodec(ByteArrayCodec.INSTANCE);
    // The store keeps bytes, never Redisson objects: without references, Redisson does not check every element of
    // every reply for one (13% of our client's Redisson-thread samples reading 100 entities x 50 features).
    config.setReferenceEnabled(false);
    if (loop == null) {
      config.setNettyThreads(4);
    } else {
      config.setEventLoopGroup(loop);
    }
    config.useSingleServer().setAddress(address).setConnectionMinimumIdleSize(1).setConnectionPoolSize(8)
        .setTimeout(10_000).setRetryAttempts(3);
    return Redisson.create(config);
  }

  private static CommandAsyncExecutor commandsOf(RedissonClient c) {
    return ((Redisson) c).getCommandExecutor();
  }

  /** A new client of its own (close it): {@code host:port}, {@code redis://host:port} or {@code rediss://...}. */
  public static OnlineStore connect(String address) {
    return new OnlineStore(address, null);
  }

  /**
   * A new store (close it; the loops stay the caller's) whose Redis connections live on the given NIO event loops:
   * one Redisson client per loop. A {@link #readAsync} called on one of these loops goes through that loop's
   * connections, so the command is written, its reply read and the returned stage completed on the calling
   * thread, with no hand-off between threads. For a server that shares its loops with its network layer (the
   * feature server's gRPC calls are read from Redis on the loop that received them). Blocking calls
   * ({@link #read}, {@link #write}, {@link #ping}) on these loops are refused: they would wait for a reply that
   * only their own thread can read.
   */
  public static OnlineStore connect(String address, EventLoopGroup loops) {
    return new OnlineStore(address, Objects.requireNonNull(loops, "loops"));
  }

  /** The JVM's client for this address, built on first use and closed when the JVM exits. Do not close it. */
  public static OnlineStore shared(String address) {
    return SHARED.computeIfAbsent(normalize(address), a -> {
      OnlineStore store = new OnlineStore(a, null);
      Runtime.getRuntime().addShutdownHook(new Thread(store.client::shutdown, "recsys-online-store-close"));
      return store;
    });
  }

  public String address() {
    return address;
  }

  /**
   * Writes the rows, {@code batchSize} per pipeline, each unless its stored "_ts" is later. Returns how many
   * were written and how many skipped as stale.
   */
  public WriteResult write(Iterable<OnlineRow> rows, long keyTtlMillis, int batchSize) {
    long written = 0;
    long stale = 0;
    List<OnlineRow> pending = new ArrayList<>(batchSize);
    for (OnlineRow row : rows) {
      pending.add(row);
      if (pending.size() >= batchSize) {
        long w = count(write(pending, ttls(pending.size(), keyTtlMillis)));
        written += w;
        stale += pending.size() - w;
        pending.clear();
      }
    }
    if (!pending.isEmpty()) {
      long w = count(write(pending, ttls(pending.size(), keyTtlMillis)));
      written += w;
      stale += pending.size() - w;
    }
    return new WriteResult(written, stale);
  }

  /** Written and skipped-as-stale row counts of a {@link #write}. */
  public record WriteResult(long written, long skippedStale) {}

  /** Rows of one key in one script call at most: the script's reply has a bit per row. */
  static final int MAX_ROWS_PER_CALL = 30;

  /**
   * Writes {@code rows} in one pipeline, each with its view's key TTL ({@code keyTtlMillis[i]}, 0 for none) and
   * each unless the stored "_ts" of its view is later. Consecutive rows with the same key (the views of one
   * entity that a micro-batch updated) go in one script call, applied in order as if each had its own: in the
   * feature job that is one call per entity instead of one per view and entity, which halved the time of a
   * six-view write in a measurement (10,000 users, one client thread: 0.72-0.77 s against 1.17-2.06 s, and 40%
   * less of Redis's CPU). Returns whether each row was written (false: skipped as stale).
   */
  public boolean[] write(List<OnlineRow> rows, long[] keyTtlMillis) {
    refuseOnLoop("write");
    if (keyTtlMillis.length != rows.size()) {
      throw new IllegalArgumentException(rows.size() + " rows but " + keyTtlMillis.length + " TTLs");
    }
    boolean[] written = new boolean[rows.size()];
    if (rows.isEmpty()) {
      return written;
    }
    for (int attempt = 0; ; attempt++) {
      String sha = writeSha();
      RBatch batch = client.createBatch(BatchOptions.defaults());
      RScriptAsync script = batch.getScript(ByteArrayCodec.INSTANCE);
      List<Integer> firsts = new ArrayList<>();
      int i = 0;
      while (i < rows.size()) {
        byte[] key = rows.get(i).key();
        int end = i + 1;
        while (end < rows.size() && end - i < MAX_ROWS_PER_CALL && Arrays.equals(rows.get(end).key(), key)) {
          end++;
        }
        int size = 0;
        for (int r = i; r < end; r++) {
          size += 6 + rows.get(r).fieldsAndValues().length;
        }
        Object[] args = new Object[size];
        int a = 0;
        for (int r = i; r < end; r++) {
          OnlineRow row = rows.get(r);
          args[a++] = row.timestampField();
          args[a++] = io.recsys.feast.FeastValueCodec.encodeTimestamp(row.eventTime());
          args[a++] = ascii(row.eventTime().getEpochSecond());
          args[a++] = ascii(row.eventTime().getNano());
          args[a++] = ascii(Math.max(0, keyTtlMillis[r]));
          args[a++] = ascii(row.fieldsAndValues().length / 2);
          System.arraycopy(row.fieldsAndValues(), 0, args, a, row.fieldsAndValues().length);
          a += row.fieldsAndValues().length;
        }
        script.evalShaAsync(RScript.Mode.READ_WRITE, sha, RScript.ReturnType.INTEGER, List.<Object>of(key), args);
        firsts.add(i);
        i = end;
      }
      firsts.add(rows.size());
      try {
        List<?> replies = batch.execute().getResponses();
        for (int c = 0; c < replies.size(); c++) {
          long mask = ((Number) replies.get(c)).longValue();
          for (int r = firsts.get(c); r < firsts.get(c + 1); r++) {
            written[r] = (mask >>> (r - firsts.get(c)) & 1) == 1;
          }
        }
        return written;
      } catch (RedisException e) {
        if (attempt == 0 && String.valueOf(e.getMessage()).contains("NOSCRIPT")) {
          LOG.info("Redis at {} lost its scripts (restart or SCRIPT FLUSH); loading them again", address);
          writeSha = null;
          continue;
        }
        throw e;
      }
    }
  }

  private static long[] ttls(int n, long keyTtlMillis) {
    long[] out = new long[n];
    Arrays.fill(out, keyTtlMillis);
    return out;
  }

  private static long count(boolean[] written) {
    long n = 0;
    for (boolean w : written) {
      if (w) {
        n++;
      }
    }
    return n;
  }

  private static byte[] ascii(long v) {
    return Long.toString(v).getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * Reads {@code fields} of every key: HMGET, one command per key, all in one pipeline (one command and no
   * pipeline for a single key). Returns, per key, the stored bytes of each field in order (null where absent).
   *
   * <p>HMGET goes through Redisson's command executor, which takes binary keys as they are; its object API
   * ({@code RMap}) names keys by String and cannot address Feast's keys. An HMGET costs Redis less than the same
   * HMGET inside a Lua script (no script call, no argument copies into Lua).
   */
  public List<List<byte[]>> read(List<byte[]> keys, List<byte[]> fields) {
    refuseOnLoop("read");
    if (keys.size() == 1) {
      byte[] key = keys.get(0);
      List<Object> values = executor.get(executor.readAsync(key, ByteArrayCodec.INSTANCE, RedisCommands.HMGET,
          hmgetArgs(key, fields)));
      return List.of(asBytes(values));
    }
    try {
      return readAsync(keys, fields).toCompletableFuture().join();
    } catch (CompletionException e) {
      // callers catch RedisException (the blocking single-key path throws it as it is), not its wrapper
      throw e.getCause() instanceof RuntimeException cause ? cause : e;
    }
  }

  /**
   * {@link #read} without blocking the calling thread: the stage completes on Redisson's I/O thread when the
   * replies are in (exceptionally with a {@link RedisException} when Redis fails), so whatever is chained to it
   * without an executor runs there: on the calling thread's own loop when it is one of the loops of
   * {@link #connect(String, EventLoopGroup)}. For servers whose request threads must not wait on Redis.
   */
  public CompletionStage<List<List<byte[]>>> readAsync(List<byte[]> keys, List<byte[]> fields) {
    CommandAsyncExecutor commands = loopExecutors.getOrDefault(Thread.currentThread(), executor);
    if (keys.size() == 1) {
      byte[] key = keys.get(0);
      RFuture<List<Object>> f = commands.readAsync(key, ByteArrayCodec.INSTANCE, RedisCommands.HMGET,
          hmgetArgs(key, fields));
      return f.thenApply(values -> List.of(asBytes(values)));
    }
    CommandBatchService batch = new CommandBatchService(commands, BatchOptions.defaults());
    List<RFuture<List<Object>>> pending = new ArrayList<>(keys.size());
    for (byte[] key : keys) {
      pending.add(batch.readAsync(key, ByteArrayCodec.INSTANCE, RedisCommands.HMGET, hmgetArgs(key, fields)));
    }
    return batch.executeAsync().thenApply(done -> {
      List<List<byte[]>> out = new ArrayList<>(keys.size());
      for (RFuture<List<Object>> f : pending) {
        out.add(asBytes(f.toCompletableFuture().join()));
      }
      return out;
    });
  }

  private static Object[] hmgetArgs(byte[] key, List<byte[]> fields) {
    Object[] args = new Object[fields.size() + 1];
    args[0] = key;
    for (int i = 0; i < fields.size(); i++) {
      args[i + 1] = fields.get(i);
    }
    return args;
  }

  /** HMGET's reply as decoded by ByteArrayCodec: a byte[] (or null) per field, so the list is used as it is. */
  @SuppressWarnings("unchecked")
  private static List<byte[]> asBytes(List<Object> values) {
    return (List<byte[]>) (List<?>) values;
  }

  /**
   * Deletes the keys (binary Feast keys, so through EVAL of DEL, one pipeline); returns how many existed. Used by
   * erasure: every feature of every view of the entity goes at once, because one hash holds them all.
   */
  public long delete(List<byte[]> keys) {
    refuseOnLoop("delete");
    RBatch batch = client.createBatch(BatchOptions.defaults());
    RScriptAsync script = batch.getScript(ByteArrayCodec.INSTANCE);
    for (byte[] key : keys) {
      script.evalAsync(RScript.Mode.READ_WRITE, "return redis.call('DEL', KEYS[1])", RScript.ReturnType.INTEGER,
          List.<Object>of(key));
    }
    long deleted = 0;
    for (Object o : batch.execute().getResponses()) {
      if (o instanceof Number n) {
        deleted += n.longValue();
      }
    }
    return deleted;
  }

  /**
   * Redis's hash-max-listpack-entries (hash-max-ziplist-entries before Redis 7): hashes of up to that many fields
   * are listpacks, which HMGET scans once per field asked for. Empty when CONFIG GET is refused (managed Redis
   * services often rename or disable it).
   */
  public OptionalLong hashListpackLimit() {
    try {
      RedisMaster node = client.getRedisNodes(RedisNodes.SINGLE).getInstance();
      for (String name : List.of("hash-max-listpack-entries", "hash-max-ziplist-entries")) {
        String v = node.getConfig(name).get(name);
        if (v != null) {
          return OptionalLong.of(Long.parseLong(v.trim()));
        }
      }
    } catch (RuntimeException e) {
      LOG.debug("CONFIG GET hash-max-listpack-entries failed at {}: {}", address, e.toString());
    }
    return OptionalLong.empty();
  }

  /** Round-trip check (PING through a script-free command); throws if Redis does not answer. */
  public void ping() {
    refuseOnLoop("ping");
    if (!client.getNodesGroup().pingAll()) {
      throw new RedisException("Redis at " + address + " did not answer PING");
    }
  }

  private String writeSha() {
    String s = writeSha;
    if (s == null) {
      s = client.getScript(ByteArrayCodec.INSTANCE).scriptLoad(WRITE_SCRIPT);
      writeSha = s;
    }
    return s;
  }

  static String normalize(String address) {
    String a = address.trim();
    return a.startsWith("redis://") || a.startsWith("rediss://") ? a : "redis://" + a;
  }

  private static String resource(String name) {
    try (InputStream in = OnlineStore.class.getResourceAsStream("/io/recsys/online/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void refuseOnLoop(String call) {
    if (loopExecutors.containsKey(Thread.currentThread())) {
      throw new IllegalStateException("OnlineStore." + call + " blocks, and on " + Thread.currentThread().getName()
          + ", an event loop of this store, it would wait for a reply that only this thread can read; use readAsync "
          + "there, or call it from another thread");
    }
  }

  @Override
  public void close() {
    if (SHARED.get(address) != this) {
      clients.forEach(RedissonClient::shutdown);
    }
  }
}
