// Pixel representations (OME-Zarr in object storage): one per image, keyed by the image id.
CREATE CONSTRAINT pixel_representation_id IF NOT EXISTS FOR (n:PixelRepresentation) REQUIRE n.id IS UNIQUE;
CREATE INDEX pixel_representation_url IF NOT EXISTS FOR (n:PixelRepresentation) ON (n.url);
