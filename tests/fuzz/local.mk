# Fuzz targets and their corpus replay land here.
