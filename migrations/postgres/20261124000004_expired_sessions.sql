-- Devices with an expiring token are sessions: the proxy's TempAuth opens
-- one per `swift`/rclone authentication. The servers purge those expired a
-- day ago unless a file version names them (a version keeps the device that
-- wrote it); this index answers that question without scanning every version.

CREATE INDEX item_versions_by_device ON item_versions (device_id);
