// Archive scale (issue 7): `images(filter: {study})` pages a study's images in id order with a
// composite seek (study = $s AND id > $after) that comes back in index order, so a page costs
// about `first` index entries whatever the size of the study or the archive. The compiler orders
// such a connection by (study, id), which equals id order under the study equality.
CREATE INDEX image_study_id IF NOT EXISTS FOR (n:Image) ON (n.study, n.id);
